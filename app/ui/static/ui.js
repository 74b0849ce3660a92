// Small behaviours of the pages, kept out of the HTML: the Content-Security-Policy runs this file only.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.matches && field.matches("[data-submit-on-change]") && field.form) {
    field.form.submit();
  }
});
