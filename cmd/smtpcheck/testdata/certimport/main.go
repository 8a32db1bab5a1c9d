// Command certimport imports the certificates and keys of a PKCS#12 file
// into the CurrentUser\My store, the way "certutil -user -importpfx" does;
// the Wine certificate store test builds it for Windows and runs it under
// Wine, which has no certutil. Usage: certimport FILE.p12 PASSWORD [cng]
// ("cng" adds PKCS12_PREFER_CNG_KSP). It prints each imported certificate
// SHA-1 thumbprint. Under Wine 8 "cng" is refused (invalid argument) and
// keys go to the legacy "Microsoft Enhanced Cryptographic Provider v1.0".
package main

import (
	"crypto/sha1"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

func main() {
	pfx, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pw, _ := windows.UTF16PtrFromString(os.Args[2])
	blob := windows.CryptDataBlob{Size: uint32(len(pfx)), Data: &pfx[0]}
	flags := uint32(windows.CRYPT_USER_KEYSET)
	if len(os.Args) > 3 && os.Args[3] == "cng" {
		flags |= windows.PKCS12_PREFER_CNG_KSP
	}
	tmp, err := windows.PFXImportCertStore(&blob, pw, flags)
	if err != nil {
		fmt.Fprintln(os.Stderr, "PFXImportCertStore:", err)
		os.Exit(3)
	}
	name, _ := windows.UTF16PtrFromString("MY")
	my, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0, windows.CERT_SYSTEM_STORE_CURRENT_USER, uintptr(unsafe.Pointer(name)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "CertOpenStore:", err)
		os.Exit(4)
	}
	var prev *windows.CertContext
	n := 0
	for {
		ctx, err := windows.CertEnumCertificatesInStore(tmp, prev)
		if err != nil || ctx == nil {
			break
		}
		prev = ctx
		if err := windows.CertAddCertificateContextToStore(my, ctx, windows.CERT_STORE_ADD_REPLACE_EXISTING, nil); err != nil {
			fmt.Fprintln(os.Stderr, "CertAddCertificateContextToStore:", err)
			os.Exit(5)
		}
		sum := sha1.Sum(unsafe.Slice(ctx.EncodedCert, ctx.Length))
		fmt.Printf("imported %x\n", sum)
		n++
	}
	// The registry-backed store is written when it is closed.
	if err := windows.CertCloseStore(my, 0); err != nil {
		fmt.Fprintln(os.Stderr, "CertCloseStore:", err)
		os.Exit(7)
	}
	if n == 0 {
		fmt.Fprintln(os.Stderr, "no certificate in the PKCS#12")
		os.Exit(6)
	}
}
