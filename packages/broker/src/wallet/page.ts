/** The broker's sign-in page for a server-side wallet grant: plain HTML, works without JavaScript. */
import { escapeHtml as html } from '@netpay/service';

export interface AuthorizePage {
  readonly vendorId: string;
  readonly vendorName: string;
  readonly redirectUri: string;
  readonly state?: string | undefined;
  /** The cap to show, formatted in major units (e.g. "5.00"). */
  readonly cap: string;
  readonly period: 'day' | 'total';
  readonly currency: string;
  readonly login?: string | undefined;
  readonly error?: string | undefined;
  /** Second step: the password was right and a code went to the login for this device. */
  readonly deviceId?: string | undefined;
}

export function renderAuthorizePage(p: AuthorizePage): string {
  const hidden = (name: string, value: string | undefined) =>
    value === undefined ? '' : `<input type="hidden" name="${name}" value="${html(value)}">`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay ${html(p.vendorName)} from your NetPay wallet</title>
<style>
body{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin:.8rem 0 .2rem}input,select,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box}
button{margin-top:1.2rem;background:#14532d;color:#fff;border:0;border-radius:.3rem;cursor:pointer}
.error{background:#fee2e2;color:#7f1d1d;padding:.6rem;border-radius:.3rem}.row{display:flex;gap:.5rem}
</style></head><body>
<main>
<h1>Pay ${html(p.vendorName)}</h1>
<p><strong>${html(p.vendorId)}</strong> asks to charge your NetPay wallet for what you open there, up to the cap you set.
It never learns who you are. You can change the cap or withdraw it at any time.</p>
${p.error ? `<p class="error" role="alert">${html(p.error)}</p>` : ''}
<form method="post" action="/wallet/authorize">
${hidden('vendor', p.vendorId)}${hidden('redirect_uri', p.redirectUri)}${hidden('state', p.state)}
${
  p.deviceId
    ? `${hidden('deviceId', p.deviceId)}${hidden('login', p.login)}
<p>We sent a 6-digit code to <strong>${html(p.login ?? '')}</strong>.</p>
<label for="code">Code</label><input id="code" name="code" inputmode="numeric" pattern="\\d{6}" autocomplete="one-time-code" required autofocus>
<div class="row"><div><label for="cap">Spending cap (${html(p.currency)})</label><input id="cap" name="capAmount" inputmode="decimal" required value="${html(p.cap)}"></div>
<div><label for="period">per</label><select id="period" name="period">
<option value="day"${p.period === 'day' ? ' selected' : ''}>day</option><option value="total"${p.period === 'total' ? ' selected' : ''}>in total</option></select></div></div>
<button type="submit">Allow and go back</button>`
    : `<label for="login">Login</label><input id="login" name="login" autocomplete="username" required value="${html(p.login ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<label for="totp">Authenticator code (if you set one up)</label><input id="totp" name="totp" inputmode="numeric" pattern="\\d{6}" autocomplete="one-time-code">
<button type="submit">Continue</button>`
}
</form>
</main></body></html>`;
}
