/** The wallet page before sign-in: create an account or sign in, then the device code when one is sent. */
import { field, html, type View } from './view.ts';

export function signInView(
  v: View,
  needsCode: boolean,
  set: { needsCode(on: boolean): void; signedIn(on: boolean): void },
) {
  const { wallet, act, busy } = v;
  if (needsCode)
    return html`<section>
      <h2>Enter your code</h2>
      <form onSubmit=${act(async (f) => {
        await wallet.verify(field(f, 'code'));
        set.needsCode(false);
        set.signedIn(true);
        return 'You are signed in.';
      })}>
        <label for="code">The 6-digit code we sent you</label>
        <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required />
        <button disabled=${busy}>Verify</button>
      </form>
    </section>`;
  return html`<section>
      <h2>Create an account</h2>
      <form onSubmit=${act(async (f) => {
        await wallet.register({ login: field(f, 'login'), password: String(f.get('password')) });
        set.needsCode(true);
        return `A code was sent to ${field(f, 'login')}.`;
      })}>
        <label for="reg-login">E-mail or phone</label>
        <input id="reg-login" name="login" autocomplete="username" required />
        <label for="reg-password">Password (10 characters or more)</label>
        <input id="reg-password" name="password" type="password" autocomplete="new-password" required />
        <button disabled=${busy}>Create account</button>
      </form>
    </section>
    <section>
      <h2>Sign in</h2>
      <form onSubmit=${act(async (f) => {
        const r = await wallet.login({
          login: field(f, 'login'),
          password: String(f.get('password')),
        });
        if (r.verificationRequired) {
          set.needsCode(true);
          return 'New device: a code was sent to you.';
        }
        set.signedIn(true);
        return undefined;
      })}>
        <label for="login">Your login</label>
        <input id="login" name="login" autocomplete="username" required />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button disabled=${busy}>Sign in</button>
      </form>
    </section>`;
}
