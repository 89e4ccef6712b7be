"""The served library as the server holds it: state, catalog, the opener beneath the root."""
