/**
 * The wallet frame's question, "pay this?": shown by the page, answered with Pay, Don't pay, Escape or
 * nothing for two minutes (no). Pay answers only after the question has been on screen for a moment (and,
 * where the browser can tell, while the frame is really visible); the focus starts on "Don't pay".
 */
const ASK_TIMEOUT_MS = 120_000;
const ARM_MS = 700;

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** Arms Pay when the page says the frame is shown (browsers without IntersectionObserver v2). */
let armOnShown: (() => void) | undefined;

/** The page says it shows the frame: the focus goes to "Don't pay", and Pay is armed after a moment. */
export function shown() {
  if ($('ask').hidden) return;
  $('cancel').focus();
  armOnShown?.();
}

/**
 * Shows the question (the page makes the frame visible and says 'shown') and waits for the answer: Pay,
 * Don't pay, Escape, or nothing for two minutes (no).
 */
export function ask(
  peer: Window,
  parentOrigin: string,
  what: string,
  left: string,
  deadline: number,
): Promise<boolean> {
  const pay = $<HTMLButtonElement>('pay');
  const cancel = $<HTMLButtonElement>('cancel');
  $('what').textContent = what;
  $('left').textContent = left;
  $('ask').hidden = false;
  pay.disabled = true;
  peer.postMessage({ type: 'show', height: document.documentElement.scrollHeight }, parentOrigin);
  return new Promise((resolve) => {
    const arming = armPay(pay, peer);
    if (peer !== parent) cancel.focus();
    const timeout = setTimeout(() => done(false), Math.min(ASK_TIMEOUT_MS, deadline - Date.now()));
    function done(yes: boolean) {
      armOnShown = undefined;
      clearTimeout(timeout);
      arming.stop();
      $('ask').hidden = true;
      pay.onclick = cancel.onclick = document.onkeydown = null;
      peer.postMessage({ type: 'hide' }, parentOrigin);
      resolve(yes);
    }
    pay.onclick = () => {
      if (!pay.disabled) done(true);
    };
    cancel.onclick = () => done(false);
    document.onkeydown = (e) => {
      if (e.key === 'Escape') done(false);
      // Tab stays within the question.
      if (e.key === 'Tab') {
        const order = [pay, cancel].filter((b) => !b.disabled);
        const at = order.indexOf(document.activeElement as HTMLButtonElement);
        e.preventDefault();
        order[(at + (e.shiftKey ? order.length - 1 : 1)) % order.length]?.focus();
      }
    };
  });
}

/**
 * Where the browser computes real visibility (IntersectionObserver v2), Pay is armed only while the frame
 * is visible; elsewhere after a moment on screen: a frame once the page says it shows it, a window of its
 * own at once.
 */
function armPay(pay: HTMLButtonElement, peer: Window) {
  let armTimer: ReturnType<typeof setTimeout> | undefined;
  const arm = (visible: boolean) => {
    clearTimeout(armTimer);
    pay.disabled = true;
    if (visible) armTimer = setTimeout(() => (pay.disabled = false), ARM_MS);
  };
  const v2 = 'isVisible' in IntersectionObserverEntry.prototype;
  const observer = v2
    ? new IntersectionObserver(
        (entries) => {
          for (const e of entries) arm((e as IntersectionObserverEntry & { isVisible: boolean }).isVisible);
        },
        { trackVisibility: true, delay: 100 } as IntersectionObserverInit,
      )
    : undefined;
  observer?.observe($('ask'));
  if (!v2 && peer === parent) armOnShown = () => arm(true);
  else if (!v2) arm(true);
  return {
    stop() {
      clearTimeout(armTimer);
      observer?.disconnect();
    },
  };
}
