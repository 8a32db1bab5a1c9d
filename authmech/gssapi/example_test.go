package gssapi_test

import (
	"fmt"

	"mailwarden/authmech"
	"mailwarden/authmech/gssapi"
)

func ExampleRegister() {
	reg := authmech.NewRegistry()
	name, ok := reg.Canonical("Kerberos")
	fmt.Println(name, ok)
	if err := gssapi.Register(reg); err != nil {
		panic(err)
	}
	name, ok = reg.Canonical("Kerberos")
	fmt.Println(name, ok)
	// Output:
	// GSSAPI false
	// GSSAPI true
}
