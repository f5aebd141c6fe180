/**
 * The report's only script: filters the rows of a page in place (text
 * search, pack, verdict, "only behaviours that differ") and keeps the
 * filter in the URL's fragment (`#q=accept&pack=tcp-connect`), so a
 * filtered view can be shared and survives a reload. It reads data-*
 * attributes, the form and the URL, never report data, and writes only
 * textContent and attributes, so one text serves every page and the CSP
 * allows exactly it by hash. Without it the form stays hidden and every row
 * is shown. Controls a page lacks are ignored.
 *
 * Rows: `tr[data-row]` in `tbody[data-pack]`; search text from
 * `data-search`; `data-differs="1"` on rows whose answers differ; verdict
 * cells `td[data-verdict]`. A fragment without `=` is an anchor and is left
 * alone.
 */
export const FILTER_SCRIPT = `(function () {
  var form = document.getElementById('filters')
  if (!form) return
  form.hidden = false
  var q = form.querySelector('input[name=q]')
  var pack = form.querySelector('select[name=pack]')
  var verdict = form.querySelector('select[name=verdict]')
  var differs = form.querySelector('input[name=differs]')
  var shown = document.getElementById('shown')
  var differsDefault = differs ? differs.defaultChecked : false
  function readUrl() {
    var params = new URLSearchParams(location.search)
    var hash = location.hash.slice(1)
    if (hash.indexOf('=') >= 0) new URLSearchParams(hash).forEach(function (v, k) { params.set(k, v) })
    if (q) q.value = params.get('q') || ''
    if (pack) pack.value = params.get('pack') || ''
    if (pack && pack.selectedIndex < 0) pack.value = ''
    if (verdict) verdict.value = params.get('verdict') || ''
    if (verdict && verdict.selectedIndex < 0) verdict.value = ''
    if (differs) differs.checked = params.has('differs') ? params.get('differs') === '1' : differsDefault
  }
  function writeUrl() {
    var params = new URLSearchParams()
    if (q && q.value) params.set('q', q.value)
    if (pack && pack.value) params.set('pack', pack.value)
    if (verdict && verdict.value) params.set('verdict', verdict.value)
    if (differs && differs.checked !== differsDefault) params.set('differs', differs.checked ? '1' : '0')
    var text = params.toString()
    var url = location.pathname + location.search + (text ? '#' + text : '')
    try { history.replaceState(null, '', url) } catch (e) { location.hash = text }
  }
  function apply() {
    var needle = q ? q.value.trim().toLowerCase() : ''
    var rowsShown = 0
    document.querySelectorAll('tbody[data-pack]').forEach(function (group) {
      var packOk = !pack || !pack.value || group.getAttribute('data-pack') === pack.value
      var visible = 0
      group.querySelectorAll('tr[data-row]').forEach(function (tr) {
        var any = false
        tr.querySelectorAll('td[data-verdict]').forEach(function (td) {
          var match = !verdict || !verdict.value || td.getAttribute('data-verdict') === verdict.value
          td.classList.toggle('dim', !match)
          if (match) any = true
        })
        var text = (tr.getAttribute('data-search') || tr.textContent || '').toLowerCase()
        var show = packOk && (!verdict || !verdict.value || any) && (!needle || text.indexOf(needle) >= 0) &&
          (!differs || !differs.checked || tr.getAttribute('data-differs') === '1')
        tr.hidden = !show
        if (show) visible++
      })
      group.hidden = visible === 0
      rowsShown += visible
    })
    if (shown) shown.textContent = String(rowsShown)
  }
  function changed() { writeUrl(); apply() }
  form.addEventListener('submit', function (e) { e.preventDefault() })
  if (q) q.addEventListener('input', changed)
  ;[pack, verdict, differs].forEach(function (c) { if (c) c.addEventListener('change', changed) })
  window.addEventListener('hashchange', function () { if (location.hash.indexOf('=') >= 0 || !location.hash) { readUrl(); apply() } })
  readUrl()
  apply()
})()
`

/** The matrix pages use the shared filter. */
export const MATRIX_FILTER_SCRIPT = FILTER_SCRIPT
