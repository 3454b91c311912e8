/** The login page: plain TypeScript (no framework) so the first page is a few kilobytes. */
import './styles/login.css';
import { HttpError, login } from './api.ts';

const form = document.getElementById('login-form') as HTMLFormElement;
const user = document.getElementById('username') as HTMLInputElement;
const pass = document.getElementById('password') as HTMLInputElement;
const error = document.getElementById('login-error') as HTMLParagraphElement;
const submit = document.getElementById('login-submit') as HTMLButtonElement;

/** Only same-site paths: an open redirect would let a link send users elsewhere after login. */
function nextPath(): string {
  const n = new URLSearchParams(location.search).get('next') ?? '/';
  return n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : '/';
}

// The login page has one task: put the cursor where it starts.
user.focus();

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.textContent = '';
  if (!user.value || !pass.value) {
    error.textContent = 'Enter your username and password.';
    return;
  }
  submit.disabled = true;
  submit.textContent = 'Signing in…';
  try {
    await login(user.value.trim(), pass.value);
    pass.value = '';
    location.assign(nextPath());
  } catch (err) {
    error.textContent =
      err instanceof HttpError && err.status === 401
        ? 'Wrong username or password.'
        : err instanceof Error
          ? err.message
          : String(err);
    submit.disabled = false;
    submit.textContent = 'Sign in';
    pass.select();
  }
});
