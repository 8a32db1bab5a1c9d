//go:build !windows

package robustio

import "os"

// Rename is os.Rename.
func Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove is os.Remove.
func Remove(path string) error { return os.Remove(path) }

// RemoveAll is os.RemoveAll.
func RemoveAll(path string) error { return os.RemoveAll(path) }

// ReadFile is os.ReadFile.
func ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Open is os.Open.
func Open(path string) (*os.File, error) { return os.Open(path) }
