"""Pure helpers behind the web UI: titles, subtitles, seek-preview sprites, listing rows."""
