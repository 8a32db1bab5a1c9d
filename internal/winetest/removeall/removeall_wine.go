//go:build windows && winetest

package removeall

import _ "unsafe" // go:linkname

// deleteatFallback is the switch Go's own tests use to take the classic
// deletion path (internal/syscall/windows); BuildTest links with
// -checklinkname=0 for it.
//
//go:linkname deleteatFallback internal/syscall/windows.TestDeleteatFallback
var deleteatFallback bool

func init() { deleteatFallback = true }
