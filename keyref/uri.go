package keyref

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// IsRef reports whether s is a key reference (pkcs11: or certstore:)
// rather than a file name.
func IsRef(s string) bool {
	return hasScheme(s, "pkcs11:") || hasScheme(s, "certstore:")
}

func hasScheme(s, scheme string) bool {
	return len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme)
}

// PKCS11URI is a parsed RFC 7512 URI. Empty fields match anything. ID is
// the CKA_ID bytes; SlotID is -1 when not given.
type PKCS11URI struct {
	Token, Manufacturer, Serial, Model string
	Object                             string // CKA_LABEL
	Type                               string // private, public, cert, secret-key, data or ""
	ID                                 []byte
	SlotID                             int
	SlotDescription, SlotManufacturer  string
	// PINSource is the pin-source query attribute: a file name, a
	// file: URI or an env: reference; the caller resolves it.
	PINSource string
	// ModulePath and ModuleName are the module-path and module-name query
	// attributes.
	ModulePath, ModuleName string
}

var pathAttrs = map[string]bool{
	"token": true, "manufacturer": true, "serial": true, "model": true,
	"object": true, "type": true, "id": true, "slot-id": true,
	"slot-description": true, "slot-manufacturer": true,
	"library-manufacturer": true, "library-description": true, "library-version": true,
}

// ParsePKCS11URI parses an RFC 7512 pkcs11: URI. A pin-value attribute is
// refused (a PIN in a reference ends up in shell history, process lists
// and configuration files); use pin-source or the profile's PIN reference.
// Unknown attributes are refused too, except vendor ones (x-...), so that
// a typo does not silently match another object. Errors wrap ErrSyntax.
func ParsePKCS11URI(s string) (*PKCS11URI, error) {
	bad := func(format string, a ...any) (*PKCS11URI, error) {
		return nil, &Error{Ref: redactURI(s), Err: fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, a...)),
			Hint: "see RFC 7512, e.g. pkcs11:token=NAME;object=LABEL"}
	}
	if !hasScheme(s, "pkcs11:") {
		return bad("not a pkcs11: URI")
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return bad("control character")
	}
	rest := s[len("pkcs11:"):]
	path, query, _ := strings.Cut(rest, "?")
	u := &PKCS11URI{SlotID: -1}
	seen := map[string]bool{}
	for _, a := range splitNonEmpty(path, ";") {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return bad("attribute %q has no value", k)
		}
		k = strings.ToLower(k)
		if seen[k] {
			return bad("attribute %q given twice", k)
		}
		seen[k] = true
		if !pathAttrs[k] && !strings.HasPrefix(k, "x-") {
			if k == "pin-value" || k == "pin-source" || k == "module-path" || k == "module-name" {
				return bad("%s belongs in the query part (after ?)", k)
			}
			return bad("unknown attribute %q", k)
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			return bad("attribute %q: bad percent-encoding", k)
		}
		switch k {
		case "token":
			u.Token = val
		case "manufacturer":
			u.Manufacturer = val
		case "serial":
			u.Serial = val
		case "model":
			u.Model = val
		case "object":
			u.Object = val
		case "type":
			switch val {
			case "private", "public", "cert", "secret-key", "data":
				u.Type = val
			default:
				return bad("type %q (want private, public, cert, secret-key or data)", val)
			}
		case "id":
			u.ID = []byte(val)
		case "slot-id":
			n, err := strconv.ParseUint(val, 10, 31)
			if err != nil {
				return bad("slot-id %q is not a number", val)
			}
			u.SlotID = int(n)
		case "slot-description":
			u.SlotDescription = val
		case "slot-manufacturer":
			u.SlotManufacturer = val
		}
	}
	for _, a := range splitNonEmpty(query, "&") {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return bad("query attribute %q has no value", k)
		}
		k = strings.ToLower(k)
		if seen["?"+k] {
			return bad("query attribute %q given twice", k)
		}
		seen["?"+k] = true
		val, err := url.PathUnescape(v)
		if err != nil {
			return bad("query attribute %q: bad percent-encoding", k)
		}
		switch k {
		case "pin-value":
			return nil, &Error{Ref: redactURI(s), Err: fmt.Errorf("%w: pin-value is refused: a PIN must not be written into a key reference", ErrSyntax),
				Hint: "put the PIN in a file and use ?pin-source=file:/path, or the profile's pkcs11.pin (env:/file: reference)"}
		case "pin-source":
			u.PINSource = val
		case "module-path":
			u.ModulePath = val
		case "module-name":
			u.ModuleName = val
		default:
			if !strings.HasPrefix(k, "x-") {
				return bad("unknown query attribute %q", k)
			}
		}
	}
	if u.Token == "" && u.Serial == "" && u.SlotID < 0 {
		return bad("no token, serial or slot-id: name the token the key is on")
	}
	if u.Object == "" && u.ID == nil {
		return bad("no object or id: name the key or certificate")
	}
	return u, nil
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redactURI drops a pin-value from s so that an error never repeats it.
func redactURI(s string) string {
	path, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		if k, _, _ := strings.Cut(p, "="); strings.EqualFold(k, "pin-value") {
			parts[i] = k + "=REDACTED"
		}
	}
	return path + "?" + strings.Join(parts, "&")
}

// String formats u back into a pkcs11: URI (without pin-source).
func (u *PKCS11URI) String() string {
	var p []string
	add := func(k, v string) {
		if v != "" {
			p = append(p, k+"="+escape(v))
		}
	}
	add("token", u.Token)
	add("manufacturer", u.Manufacturer)
	add("serial", u.Serial)
	add("model", u.Model)
	add("object", u.Object)
	add("type", u.Type)
	if u.ID != nil {
		var b strings.Builder
		for _, c := range u.ID {
			fmt.Fprintf(&b, "%%%02x", c)
		}
		p = append(p, "id="+b.String())
	}
	if u.SlotID >= 0 {
		p = append(p, "slot-id="+strconv.Itoa(u.SlotID))
	}
	return "pkcs11:" + strings.Join(p, ";")
}

func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~:[]@!$'()*+,", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Store locations of the Windows certificate store.
const (
	CurrentUser  = "CurrentUser"
	LocalMachine = "LocalMachine"
)

// CertStoreRef names a certificate (with its private key) in a Windows
// certificate store: certstore:LOCATION/My?thumbprint=HEX, or ?subject=TEXT
// (a substring of the subject's common name or an e-mail address in the
// certificate). LOCATION is CurrentUser or LocalMachine; "My" is the only
// store that holds personal keys and the only one accepted.
type CertStoreRef struct {
	Location   string
	Store      string
	Thumbprint []byte // SHA-1 of the certificate, as Windows shows it
	Subject    string
}

// ParseCertStoreRef parses a certstore: reference. Errors wrap ErrSyntax.
func ParseCertStoreRef(s string) (*CertStoreRef, error) {
	bad := func(format string, a ...any) (*CertStoreRef, error) {
		return nil, &Error{Ref: s, Err: fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, a...)),
			Hint: "e.g. certstore:CurrentUser/My?thumbprint=HEX or certstore:LocalMachine/My?subject=alerts@example.com"}
	}
	if !hasScheme(s, "certstore:") {
		return bad("not a certstore: reference")
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return bad("control character")
	}
	path, query, _ := strings.Cut(s[len("certstore:"):], "?")
	loc, store, ok := strings.Cut(path, "/")
	if !ok {
		store = "My"
	}
	r := &CertStoreRef{}
	switch strings.ToLower(loc) {
	case "currentuser":
		r.Location = CurrentUser
	case "localmachine":
		r.Location = LocalMachine
	default:
		return bad("location %q (want CurrentUser or LocalMachine)", loc)
	}
	if !strings.EqualFold(store, "my") {
		return bad("store %q: only the personal store My holds private keys", store)
	}
	r.Store = "My"
	q, err := url.ParseQuery(query)
	if err != nil {
		return bad("query: %v", err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return bad("%s given twice", k)
		}
		switch strings.ToLower(k) {
		case "thumbprint", "sha1":
			h := strings.NewReplacer(" ", "", ":", "").Replace(v[0])
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 20 {
				return bad("thumbprint must be 40 hex digits (the certificate's SHA-1)")
			}
			r.Thumbprint = b
		case "subject", "email":
			if v[0] == "" {
				return bad("empty %s", k)
			}
			r.Subject = v[0]
		default:
			return bad("unknown attribute %q (want thumbprint or subject)", k)
		}
	}
	if (r.Thumbprint == nil) == (r.Subject == "") {
		return bad("give exactly one of thumbprint and subject")
	}
	return r, nil
}
