package headers_test

import (
	"errors"
	"fmt"

	"mailwarden/headers"
)

func ExampleParseAddressList() {
	list, err := headers.ParseAddressList(`alerts@x.com; security@x.com, "Doe, Jane" <jane@y.org>; ops@bücher.example`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range list {
		fmt.Printf("%q <%s>\n", a.Name, a.Addr)
	}
	fmt.Println(headers.FormatAddressList(list))

	_, err = headers.ParseAddressList("ok@x.com; Doe, Jane <jane@y.org>")
	var ae *headers.AddressError
	fmt.Println(errors.As(err, &ae), ae.Entry)
	// Output:
	// "" <alerts@x.com>
	// "" <security@x.com>
	// "Doe, Jane" <jane@y.org>
	// "" <ops@xn--bcher-kva.example>
	// alerts@x.com, security@x.com, "Doe, Jane" <jane@y.org>, ops@xn--bcher-kva.example
	// true Doe
}

func ExampleFormatField() {
	f, err := headers.FormatField("Subject", headers.EncodeText("Grüße aus München"))
	fmt.Printf("%q %v\n", f, err)
	_, err = headers.FormatField("X-Tag", "a\r\nBcc: victim@example.com")
	fmt.Println(errors.Is(err, headers.ErrInjection))
	// Output:
	// "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=\r\n" <nil>
	// true
}
