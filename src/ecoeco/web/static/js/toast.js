// Short confirmations that outlive a screen change ("signed out", "account deleted"). The element is a
// live region that always exists, so screen readers announce each new message.

const SHOW_MS = 6000;
let timer = null;

export function toast(message) {
  const box = document.getElementById('toast');
  box.textContent = message;
  clearTimeout(timer);
  timer = setTimeout(() => {
    box.textContent = '';
  }, SHOW_MS);
}
