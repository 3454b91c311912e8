// Plain login page until the dashboard issue builds the full web app. The session lives in an
// HttpOnly cookie set by the server, so this script never sees a token.
import { $, api } from './api.js';

function show(view) {
  $('login-view').hidden = view !== 'login';
  $('home-view').hidden = view !== 'home';
}

async function loadHome() {
  let me;
  try {
    me = await api('/api/me');
  } catch {
    try {
      await api('/api/auth/refresh', { method: 'POST' });
      me = await api('/api/me');
    } catch {
      $('who').textContent = '';
      show('login');
      $('username').focus();
      return;
    }
  }
  $('who').textContent = `Signed in as ${me.username} (${me.role})`;
  const tbody = $('patients').querySelector('tbody');
  tbody.replaceChildren();
  try {
    const patients = await api('/api/patients');
    for (const p of patients) {
      const tr = document.createElement('tr');
      for (const v of [p.bed ?? '', p.name, p.ward ?? '', p.mrn]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      tbody.append(tr);
    }
    $('home-note').textContent = patients.length ? '' : 'No patients to show for your role.';
  } catch (err) {
    $('home-note').textContent =
      err.status === 403 ? 'Your role does not see patient records.' : String(err.message);
  }
  show('home');
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    await api('/api/auth/login', {
      method: 'POST',
      body: JSON.stringify({ username: $('username').value, password: $('password').value }),
    });
    $('password').value = '';
    await loadHome();
  } catch (err) {
    $('login-error').textContent = err.message;
  }
});

$('logout').addEventListener('click', async () => {
  await api('/api/auth/logout', { method: 'POST' }).catch(() => {});
  await loadHome();
});

loadHome();
