// Glue between the ipywidgets HTML manager 1.0.15 (embed-amd.js) and a locally served MathJax 3.
// Loaded just before embed-amd.js on pages with widgets (see nb_ipywidgets_js in _config.yml).
(function () {
  "use strict";
  // 1. Fonts: the manager's CSS finds its icon fonts through the URL require.js gives the module
  //    "@jupyter-widgets/html-manager/dist/libembed-amd", by default relative to the page
  //    (notebooks/@jupyter-widgets/...). Map that module path to the folder embed-amd.js is served from.
  //    The modules "@jupyter-widgets/controls", ".../base" (bundled in embed-amd.js too) carry their
  //    own copy of the icon-font CSS, located the same way: map the "@jupyter-widgets" prefix to that
  //    folder as well (it holds the same hashed font files), or a page with a control that shows an
  //    icon asks for notebooks/@jupyter-widgets/<hash>.woff2 and gets a 404. require.js picks the
  //    longest matching prefix, so the html-manager mapping still applies to its own module.
  var me = document.currentScript && document.currentScript.src;
  if (me) {
    var dist = new URL("html-manager/dist/", me).href;
    window.__jupyter_widgets_assets_path__ = dist;
    if (window.requirejs) {
      window.requirejs.config({ paths: {
        "@jupyter-widgets/html-manager/dist": dist.replace(/\/$/, ""),
        "@jupyter-widgets": dist.replace(/\/$/, ""),
      } });
    }
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

  // 3. Figures inside widget outputs (e.g. the first state of a widgets.interact plot) come without
  //    alt text; say what they are.
  var ALT = "Figure drawn by the interactive controls above, in their first state " +
    "(in a running notebook, moving the controls redraws it)";
  function describe(root) {
    if (!root.querySelectorAll) return;
    var images = root.matches && root.matches(".jupyter-widgets img") ? [root] : [];
    images = images.concat(Array.prototype.slice.call(root.querySelectorAll(".jupyter-widgets img")));
    images.forEach(function (img) { if (!img.getAttribute("alt")) img.setAttribute("alt", ALT); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    new MutationObserver(function (changes) {
      changes.forEach(function (change) { change.addedNodes.forEach(describe); });
    }).observe(document.body, { childList: true, subtree: true });
  });
})();
