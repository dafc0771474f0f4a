// Glue between the ipywidgets HTML manager 1.0.15 (embed-amd.js) and a locally served MathJax 3.
// Loaded just before embed-amd.js on pages with widgets (see nb_ipywidgets_js in _config.yml).
(function () {
  "use strict";
  // 1. Fonts: the manager's CSS refers to its icon fonts relative to a webpack public path that
  //    defaults to the page's folder; point it at the folder embed-amd.js is served from.
  var me = document.currentScript && document.currentScript.src;
  if (me) {
    window.__jupyter_widgets_assets_path__ = new URL("html-manager/dist/", me).href;
  }
  // 2. The manager typesets widget labels with the MathJax 2 API, MathJax.Hub.Queue(["Typeset", Hub, el]),
  //    which throws under MathJax 3. Widgets render on the window "load" event, after MathJax 3 has
  //    replaced window.MathJax, so add a small Hub that forwards to MathJax 3's typesetPromise.
  function addHub() {
    var mj = window.MathJax;
    if (mj && !mj.Hub) {
      mj.Hub = {
        Queue: function (command) {
          var el = command && command[2];
          if (el && window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise([el]).catch(function () {});
          }
        },
      };
    }
  }
  document.addEventListener("DOMContentLoaded", addHub);
  window.addEventListener("load", addHub);
})();
