package tts

import "errors"

// Errors of text-to-speech, wrapped with details; check them with errors.Is.
var (
	// ErrEmptyText: there is nothing to say (empty or only white space).
	ErrEmptyText = errors.New("tts: empty text")
	// ErrInvalidText: the text is not UTF-8 or longer than MaxTextRunes.
	ErrInvalidText = errors.New("tts: invalid text")
	// ErrUnknownLanguage: the engine has no voice for the language.
	ErrUnknownLanguage = errors.New("tts: unknown language")
	// ErrMissingTool: a program the engine runs is not installed.
	ErrMissingTool = errors.New("tts: missing program")
	// ErrEngine: the engine failed (exit status, HTTP status, unreadable audio).
	ErrEngine = errors.New("tts: engine failed")
	// ErrNoSpeech: the engine rendered silence, e.g. for text that is only punctuation.
	ErrNoSpeech = errors.New("tts: rendered audio is silent")
	// ErrInvalidKey: a string that is not a cache key (64 lower-case hex digits).
	ErrInvalidKey = errors.New("tts: invalid cache key")
)
