package audit

import "errors"

// VerifyProgress is Verify that calls progress with each record once it
// verified, in chain order, so that a program can show how far a long
// trail is (the record's File and the bytes of its JSON tell where the
// reading is). progress must not keep the record's JSON. A nil progress
// makes it Verify.
func VerifyProgress(key []byte, progress func(ScannedRecord), files ...string) (*Report, error) {
	if progress == nil {
		return Verify(key, files...)
	}
	if len(files) == 0 {
		return nil, errors.New("audit: verify: no files")
	}
	s, err := newScanner(ScanConfig{Key: key}, "verify", 0, files)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for s.Next() {
		progress(s.Record())
	}
	var te *TamperError
	if err := s.Err(); err != nil && !errors.As(err, &te) && !errors.Is(err, ErrKeyRequired) {
		return nil, err
	}
	return s.Report(), s.Err()
}
