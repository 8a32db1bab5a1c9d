package authmech

import "errors"

// ErrPlaintextRefused is returned by Start when a mechanism would expose a
// reusable secret on a connection without TLS and ServerInfo.AllowPlaintext is
// false.
var ErrPlaintextRefused = errors.New("authmech: refusing to send credentials over an unencrypted connection")

// ErrNotOffered is returned by Start when the server did not advertise the
// mechanism the caller asked for (or, for auto, none that the credentials can
// satisfy).
var ErrNotOffered = errors.New("authmech: mechanism not offered by the server")
