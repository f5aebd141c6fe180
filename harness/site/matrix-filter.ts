/**
 * The matrix page's only script: filter rows by pack and verdict in place.
 * It reads data-* attributes and the form; it never carries report data, so
 * the page's CSP can allow exactly this text by hash. Without it the form
 * stays hidden and the full matrix is shown.
 */
export const MATRIX_FILTER_SCRIPT = `(function () {
  var form = document.getElementById('filters')
  if (!form) return
  form.hidden = false
  var pack = form.querySelector('select[name=pack]')
  var verdict = form.querySelector('select[name=verdict]')
  var shown = document.getElementById('shown')
  function apply() {
    var rowsShown = 0
    document.querySelectorAll('tbody[data-pack]').forEach(function (group) {
      var packOk = !pack.value || group.getAttribute('data-pack') === pack.value
      var visible = 0
      group.querySelectorAll('tr[data-row]').forEach(function (tr) {
        var any = false
        tr.querySelectorAll('td[data-verdict]').forEach(function (td) {
          var match = !verdict.value || td.getAttribute('data-verdict') === verdict.value
          td.classList.toggle('dim', !match)
          if (match) any = true
        })
        var show = packOk && (!verdict.value || any)
        tr.hidden = !show
        if (show) visible++
      })
      group.hidden = visible === 0
      rowsShown += visible
    })
    if (shown) shown.textContent = String(rowsShown)
  }
  pack.addEventListener('change', apply)
  verdict.addEventListener('change', apply)
  apply()
})()
`
