"""Applications built on the library: the web page and API (``web``)."""
