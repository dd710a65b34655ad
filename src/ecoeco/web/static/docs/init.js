// Swagger UI for /docs, from the files of the swagger-ui-py wheel (no CDN). A separate file, not an
// inline script, so the page runs under a Content-Security-Policy without 'unsafe-inline' scripts.
const root = document.getElementById('swagger-ui');
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: '#swagger-ui',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: 'BaseLayout',
});
