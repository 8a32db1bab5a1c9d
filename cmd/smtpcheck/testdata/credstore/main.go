// Command credstore saves a domain password credential in the current
// user's Credential Manager, the way "cmdkey /add:TARGET /user:USER
// /pass" does; the Wine test of --auth system over NTLM builds it for
// Windows and runs it under Wine, which has no cmdkey. Usage: credstore
// TARGET USER, with the password in the environment variable
// CREDSTORE_PASSWORD (never on the command line); credstore -delete
// TARGET removes it ("cmdkey /delete:TARGET").
package main

import (
	"fmt"
	"os"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

// credential is CREDENTIALW.
type credential struct {
	Flags              uint32
	Type               uint32
	TargetName         *uint16
	Comment            *uint16
	LastWritten        windows.Filetime
	CredentialBlobSize uint32
	CredentialBlob     *byte
	Persist            uint32
	AttributeCount     uint32
	Attributes         uintptr
	TargetAlias        *uint16
	UserName           *uint16
}

const (
	credTypeDomainPassword  = 2
	credPersistLocalMachine = 2
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-delete" {
		target, _ := windows.UTF16PtrFromString(os.Args[2])
		proc := windows.NewLazySystemDLL("advapi32.dll").NewProc("CredDeleteW")
		if r, _, err := proc.Call(uintptr(unsafe.Pointer(target)), credTypeDomainPassword, 0); r == 0 {
			fmt.Fprintln(os.Stderr, "CredDeleteW:", err)
			os.Exit(3)
		}
		fmt.Println("deleted", os.Args[2])
		return
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: credstore TARGET USER (password in CREDSTORE_PASSWORD)")
		os.Exit(2)
	}
	target, _ := windows.UTF16PtrFromString(os.Args[1])
	user, _ := windows.UTF16PtrFromString(os.Args[2])
	pw := utf16.Encode([]rune(os.Getenv("CREDSTORE_PASSWORD")))
	if len(pw) == 0 {
		fmt.Fprintln(os.Stderr, "CREDSTORE_PASSWORD is empty")
		os.Exit(2)
	}
	c := credential{
		Type:               credTypeDomainPassword,
		TargetName:         target,
		CredentialBlobSize: uint32(len(pw) * 2),
		CredentialBlob:     (*byte)(unsafe.Pointer(&pw[0])),
		Persist:            credPersistLocalMachine,
		UserName:           user,
	}
	proc := windows.NewLazySystemDLL("advapi32.dll").NewProc("CredWriteW")
	if r, _, err := proc.Call(uintptr(unsafe.Pointer(&c)), 0); r == 0 {
		fmt.Fprintln(os.Stderr, "CredWriteW:", err)
		os.Exit(3)
	}
	fmt.Println("saved", os.Args[1], os.Args[2])
}
