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
	st, err := loadSMIME(ctx, Profile{Name: "command line", SMIME: c}, getenv, src)
	if err != nil || st == nil {
		return nil, err
	}
	return st.wrap.Wrap, nil
}
