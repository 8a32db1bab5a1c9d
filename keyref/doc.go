// Package keyref names private keys that are used but never read: keys on
// a PKCS#11 token (an HSM, a smart card, SoftHSM) and keys in the Windows
// certificate store. A reference is a string where a key file name would
// otherwise go:
//
//	pkcs11:token=mailwarden;object=smime-rsa?pin-source=file:/etc/mailwarden/pin
//	certstore:CurrentUser/My?thumbprint=3a1f...
//	certstore:LocalMachine/My?subject=alerts@example.com
//
// The pkcs11 form is the URI of RFC 7512 (path attributes token,
// manufacturer, serial, model, object, type, id, slot-id, slot-description,
// slot-manufacturer, library-*; query attributes pin-source, module-path,
// module-name). A PIN is never accepted inline: pin-value is refused, and
// pin-source names a file (or an env: reference) the caller resolves.
//
// Open returns a Key whose Signer is a crypto.Signer (and, for RSA, a
// crypto.Decrypter), with the certificate when the token or store holds
// one, so the code above treats token, store and file keys alike. Only
// the digest goes to the token; hashing stays in the process.
//
// PKCS#11 uses github.com/ThalesGroup/crypto11 over github.com/miekg/pkcs11,
// which need cgo: a build without cgo returns ErrNoPKCS11. A Pool keeps one
// logged-in context per module and token, with pooled sessions that are
// safe for concurrent use. A PIN the token rejected is remembered (as a
// keyed hash) and not presented again to that token by the same Pool, so a
// retry loop cannot lock a card.
//
// The Windows certificate store (the "My" store of CurrentUser or
// LocalMachine) is used through CNG by github.com/google/certtostore and
// exists only in Windows builds; elsewhere it returns ErrNoCertStore. An
// RSA key held by a legacy CryptoAPI provider (as Wine's PFXImportCertStore
// imports every key) signs through CryptSignHash, PKCS#1 v1.5 only, and is
// not a crypto.Decrypter; a legacy key that is not RSA is ErrKeyProvider.
//
// keyref imports no other package of this module.
package keyref
