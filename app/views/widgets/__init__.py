"""Widget helpers every view shares: thumbnails and drop payloads (`common`), the theme and icons
(`style`), window placement (`window_geometry`) and the episode picture's scroll area (`episode_grid`)."""
