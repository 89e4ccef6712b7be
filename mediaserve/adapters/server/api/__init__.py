"""What aiohttp answers: the app's keys, access middlewares, login, listings, shows."""
