//go:build windows

package outbox

import _ "mailwarden/internal/winetest/removeall"
