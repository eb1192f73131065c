// Starts Swagger UI on the docs page. A file rather than an inline script, so that the page's
// Content-Security-Policy can keep script-src to 'self'. The page names the spec's URL.
"use strict";
(function () {
  const container = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: container.dataset.specUrl,
    domNode: container,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
