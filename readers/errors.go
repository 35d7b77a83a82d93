package readers

import "errors"

// Errors returned by the frame and line parsers; match them with errors.Is.
// The wrapping error says what was wrong and where.
var (
	// ErrChecksum: the frame is complete but its checksum (EM4100 XOR,
	// PN532 LCS/DCS) or Wiegand parity does not match.
	ErrChecksum = errors.New("bad checksum")
	// ErrMalformed: the bytes do not have the shape the reader format
	// requires (length, framing bytes, digits).
	ErrMalformed = errors.New("malformed frame")
	// ErrPortNotFound: no serial port matches the configured path or USB ids.
	ErrPortNotFound = errors.New("serial port not found")
	// ErrAmbiguousPort: several USB serial ports match the configured ids;
	// add the serial number.
	ErrAmbiguousPort = errors.New("several serial ports match")
)

func isChecksum(err error) bool { return errors.Is(err, ErrChecksum) }
