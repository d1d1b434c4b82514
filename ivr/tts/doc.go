// Package tts speaks the hotline's texts: it renders them to telephone audio
// with a text-to-speech engine, keeps the audio in a disk cache and serves it
// over HTTP to Asterisk, which may run on another host than ccd and shares no
// disk with it.
//
//	engine, _ := tts.NewEspeak(ctx)                    // or tts.NewHTTP(url)
//	cache, _ := tts.NewCache(engine, dir, tts.CacheLogger(log))
//	mux.Handle(tts.MediaPath, cache.Handler())         // on ccd's HTTP server
//	speaker, _ := tts.NewSpeaker(cache, cfg.TTS.MediaURL)
//	media, _ := speaker.Speak(ctx, "zh", "您好，欢迎致电食品追溯热线。")
//	// media = "sound:http://10.0.0.5:8080/media/tts/<key>.wav", for ARI play
//
// # Engines
//
// An Engine renders a text in a Voice (language zh or en, optionally an
// engine voice) to 8 kHz mono 16-bit PCM whose loudest sample is at
// DefaultPeak, -3 dBFS. Espeak, the default, runs espeak-ng from Debian
// (voices cmn and en-us) and resamples its 22.05 kHz output in Go with a
// windowed-sinc low-pass (telephone band kept, aliases 80 dB down).
// HTTPEngine calls a TTS service; its documentation gives the contract.
//
// # Cache
//
// Cache.Get returns the key of a text's audio, <dir>/<key>.wav, rendering it
// first if needed: the key is the SHA-256 of the engine's Name (which carries
// its settings), the voice and the text. Concurrent Gets of one text render
// it once; files are written to a temporary name and renamed. Prerender
// renders a flow's static prompts when it is published. Nothing is removed
// by itself: Prune removes files unused for a horizon of days.
//
// # Playing the audio from Asterisk
//
// Cache.Handler serves GET and HEAD MediaPath+KEY+".wav" with Content-Type
// audio/wav, ETag "KEY" and Cache-Control max-age (CacheMaxAge), nothing
// else. ccd hands Asterisk the URI from MediaURI (or Speaker.Speak) in an
// ARI play, media=sound:http://HOST:PORT/media/tts/KEY.wav, and Asterisk's
// res_http_media_cache (loaded by default, libcurl) fetches it. Found against
// Asterisk 22.10 by the calls of test/ttse2e:
//
//   - The URI form is the sound: scheme followed by the URL; the other ARI
//     media schemes (recording:, tone:, digits: ...) take no URLs.
//   - Asterisk names its local copy after the Content-Type (audio/wav and
//     audio/x-wav both give wav), else after the extension that ends the
//     URL, else the extension of the URL's path (a query string is fine).
//     So a URL ending in .wav plays whatever the Content-Type, and a URL
//     without extension only with a WAV Content-Type; the handler gives both.
//     The data must be a format Asterisk reads: 8 kHz 16-bit mono WAV is its
//     "wav" (signed linear), which every channel codec is translated from.
//   - A URI shorter than the path of Asterisk's local copy (about 34
//     characters) does not play: Asterisk sizes the buffer for that path by
//     the URI. Media URIs here are about 100 characters.
//   - The first play fetches the file (GET) before the first sample goes
//     out, so the fetch delays the prompt; later plays use the local copy
//     without a request until max-age has passed. Then Asterisk sends HEAD
//     with If-None-Match: "KEY", keeps its copy on 304 Not Modified and
//     fetches anew on anything else. Without Cache-Control it would
//     revalidate before every play; CacheMaxAge(0) asks for exactly that.
//   - A fetch holds the lock of Asterisk's media cache, which every HTTP
//     playback of the instance waits for. deploy/asterisk sets
//     res_http_media_cache's timeout_secs to 10 (default 180): an unreachable
//     ccd costs one playback 10 s, after which the playback fails and the
//     flow goes on.
//   - Asterisk keeps every fetched URI (a file in its cache directory and an
//     astdb entry, across restarts) with no eviction of its own; `media cache
//     delete URI` on its CLI removes one. Prompts are few, but read-outs of
//     trace records differ per record: mind the disk of the Asterisk host.
//
// Render a text before its URI goes to Asterisk (Speaker.Speak does): the
// handler serves only what is cached and never renders on a request.
package tts
