package keyref_test

import (
	"errors"
	"fmt"

	"mailwarden/keyref"
)

func ExampleParsePKCS11URI() {
	u, err := keyref.ParsePKCS11URI("pkcs11:token=corp%20HSM;object=alerts;id=%01?pin-source=file:/etc/mailwarden/pin")
	if err != nil {
		panic(err)
	}
	fmt.Printf("token %q object %q id %x pin-source %s\n", u.Token, u.Object, u.ID, u.PINSource)

	_, err = keyref.ParsePKCS11URI("pkcs11:token=corp;object=alerts?pin-value=1234")
	fmt.Println(errors.Is(err, keyref.ErrSyntax))
	// Output:
	// token "corp HSM" object "alerts" id 01 pin-source file:/etc/mailwarden/pin
	// true
}
