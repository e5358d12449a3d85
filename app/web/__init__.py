"""The web server output's parts: frame hand-over (hub), server thread, routes, auth,
recordings, metrics, status; the page assets are in static/."""
