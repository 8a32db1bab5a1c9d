package mailwarden

import (
	"context"
	"io"
)

// SMIMEWrap returns what a profile with the S/MIME settings c puts in
// envelope.Message.Wrap: the function that signs and/or encrypts a
// message's body as it is written, streaming, so that memory does not grow
// with the message. It is nil when c asks for no S/MIME. A program that
// builds messages without sending them (to show or store the exact bytes a
// send would carry) uses it; Send applies the profile's own. getenv (nil:
// os.Getenv) and src resolve the PKCS#12 password reference. Errors are
// *ConfigError, as NewSender's.
func SMIMEWrap(ctx context.Context, c SMIMEConfig, getenv func(string) string, src SecretSource) (func(dst io.Writer) (io.WriteCloser, error), error) {
	return SMIMEWrapKeys(ctx, c, PKCS11Config{}, getenv, src)
}

// SMIMEWrapKeys is SMIMEWrap for settings whose signing key may be on a
// PKCS#11 token: p11 says how to reach it (see PKCS11Config).
func SMIMEWrapKeys(ctx context.Context, c SMIMEConfig, p11 PKCS11Config, getenv func(string) string, src SecretSource) (func(dst io.Writer) (io.WriteCloser, error), error) {
	st, err := loadSMIME(ctx, Profile{Name: "command line", SMIME: c, PKCS11: p11}, getenv, src)
	if err != nil || st == nil {
		return nil, err
	}
	return st.wrap.Wrap, nil
}
