// Small enhancements for every page (the pages work without them): ask before submitting a
// form marked data-confirm (ending a meeting), and select the whole call link on focus.

document.addEventListener('submit', (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});

for (const input of document.querySelectorAll('input[readonly]')) {
  input.addEventListener('focus', () => input.select());
}
