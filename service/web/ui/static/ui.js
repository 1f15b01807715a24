// "Use" buttons beside CJ's variants fill the chosen line's field; the form works without this script.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-fill]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-fill"));
  if (!field) return;
  field.value = button.getAttribute("data-value");
  field.focus();
});
