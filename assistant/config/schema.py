"""The configuration schema: one frozen dataclass per stage.

Every field carries a one-line ``doc`` and, where it applies, ``choices`` or a numeric
``range``; the loader validates against these and ``config.example.toml`` documents them.
Fields marked ``secret`` are never read from TOML or the environment: the loader fills
them from the file named by the matching ``*_file`` key or from ``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRECISIONS = ("fp32", "fp16", "q4", "q4f16", "quantized")
WAKE_MODELS = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")


def opt(
    default: Any,
    doc: str,
    *,
    choices: tuple[Any, ...] | None = None,
    range: tuple[float, float] | None = None,
    secret: str | None = None,
) -> Any:
    """A documented config field; ``secret`` names the credential it is filled from."""
    meta = {"doc": doc, "choices": choices, "range": range, "secret": secret}
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta, repr=secret is None)


@dataclass(frozen=True)
class AudioConfig:
    input_device: str = opt("", "Microphone: a substring of its name ('' = system default)")
    output_device: str = opt("", "Speaker: a substring of its name ('' = system default)")
    capture_rate: int = opt(0, "Capture rate in Hz; 0 tries 16000 then the device's own rate", range=(0, 192000))
    block_ms: int = opt(10, "Length of one audio frame handed to the pipeline, in ms", choices=(10, 20, 30))
    queue_seconds: float = opt(2.0, "Audio the capture queue may hold before frames are dropped", range=(0.1, 30.0))
    latency_s: float = opt(0.1, "PortAudio input latency in seconds", range=(0.005, 1.0))
    stall_timeout_s: float = opt(2.0, "No audio for this long means the microphone is lost; it is reopened", range=(0.2, 60.0))
    reopen_max_backoff_s: float = opt(10.0, "Longest wait between attempts to reopen a lost microphone", range=(0.1, 300.0))
    volume: int = opt(80, "Playback volume in percent at the first start (then kept in the state directory)", range=(0, 100))
    volume_step: int = opt(10, "How much 'louder' and 'quieter' change the volume, in percent", range=(1, 50))


@dataclass(frozen=True)
class WakeWordConfig:
    model: str = opt("okay_nabu", f"Bundled model ({', '.join(WAKE_MODELS)}) or a path to an openWakeWord .onnx/.tflite")
    threshold: float = opt(0.0, "Score at or above which the wake word fires (0 = the bundled model's tuned threshold)",
                           range=(0.0, 1.0))
    refractory_s: float = opt(2.0, "Seconds after a detection during which it cannot fire again", range=(0.0, 60.0))
    barge_in: bool = opt(True, "While the assistant speaks, a wake word stops it (else the detector is off)")
    barge_in_threshold: float = opt(0.9, "Score needed to fire while the assistant speaks", range=(0.0, 1.0))
    gate_tail_s: float = opt(0.3, "Keep that stricter gate this long after speech ends (room echo)", range=(0.0, 5.0))


@dataclass(frozen=True)
class VadConfig:
    engine: str = opt("silero", "Voice activity detector", choices=("webrtc", "silero"))
    aggressiveness: int = opt(2, "webrtcvad aggressiveness (0 = least, 3 = most)", range=(0, 3))
    pre_roll_ms: int = opt(300, "Audio kept from just before speech starts, in ms", range=(0, 2000))
    end_silence_ms: int = opt(700, "Silence that ends an utterance, in ms", range=(100, 5000))
    min_speech_ms: int = opt(250, "Shorter bursts of speech are ignored, in ms", range=(0, 5000))
    max_speech_s: float = opt(30.0, "Hard cap on one utterance (Gemma 4 takes at most 30 s)", range=(1.0, 30.0))
    no_speech_timeout_s: float = opt(5.0, "Give up listening if no speech starts within this time", range=(0.5, 60.0))
    start_ms: int = opt(60, "Speech must fill most of this window before an utterance starts, in ms", range=(10, 1000))
    silero_threshold: float = opt(0.5, "Silero VAD: speech probability at or above which a frame is speech", range=(0.05, 0.95))
    silero_model: str = opt("", "Silero VAD .onnx file ('' = the one in the installed silero-vad package)")


@dataclass(frozen=True)
class ModelConfig:
    dir: str = opt("", "Gemma 4 E2B ONNX model directory ('' = <state_dir>/models/gemma-4-E2B-it-ONNX)")
    backend: str = opt("onnxruntime", "What runs the text decoder: ONNX Runtime graphs of model.dir, or llama.cpp on "
                                      "model.gguf (the audio encoder stays on ONNX Runtime)",
                        choices=("onnxruntime", "llama.cpp"))
    gguf: str = opt("", "GGUF of the text decoder for backend llama.cpp ('' = <model.dir>/gguf/model.gguf)")
    llama_repack: bool = opt(True, "llama.cpp: repack weights for this CPU's kernels at load (faster, more memory)")
    context: int = opt(4096, "llama.cpp: KV cache positions (prompt and reply of one model step)", range=(256, 131072))
    decoder_precision: str = opt("q4", "Precision of decoder_model_merged", choices=PRECISIONS)
    embed_precision: str = opt("q4", "Precision of embed_tokens", choices=PRECISIONS)
    audio_precision: str = opt("q4", "Precision of audio_encoder", choices=PRECISIONS)
    threads: int = opt(0, "ONNX Runtime intra-op threads (0 = from the hardware profile)", range=(0, 64))
    spin: bool = opt(False, "Let idle ONNX Runtime threads busy-wait (faster on an idle machine, collapses under load)")
    max_new_tokens: int = opt(256, "Most tokens generated in one model step", range=(1, 4096))
    sample: bool = opt(False, "Sample instead of greedy decoding")
    temperature: float = opt(1.0, "Sampling temperature", range=(0.01, 5.0))
    top_k: int = opt(64, "Sampling: keep this many most likely tokens", range=(1, 262144))
    top_p: float = opt(0.95, "Sampling: nucleus probability mass", range=(0.01, 1.0))
    seed: int = opt(0, "Sampling seed", range=(0, 2**31 - 1))
    thinking: bool = opt(False, "Let the model think before answering (never spoken)")
    system_prompt: str = opt(
        "You are a voice assistant in a smart home. Answer briefly. Use the tools to control devices.",
        "System prompt sent before every conversation",
    )
    prefix_cache: bool = opt(True, "Prefill the system prompt and tool declarations once and reuse their KV state")
    ple_store: str = opt(
        "off", "Per-layer embeddings from a memory-mapped store built once from embed_tokens", choices=("off", "int8", "int4")
    )
    optimize_graphs: bool = opt(
        True, "Rewrite quantized graphs once at load for speed (int8 compute, quantized LM head), cached on disk"
    )
    lm_head_bits: int = opt(8, "LM head quantization of the optimised decoder (0 = leave the head as published)",
                            choices=(0, 4, 8))
    q4_block: int = opt(32, "4-bit block of the optimised decoder's MatMulNBits and quantized LM head (32 = as "
                            "published; larger: requantized once at load, from a float decoder beside it if present)",
                        choices=(32, 64, 128, 256))
    graph_cache_dir: str = opt("", "Where optimised graphs are kept ('' = <state_dir>/cache/graphs)")
    stream_encoder: bool = opt(
        True, "Split the audio encoder into stages at load (cached with optimised graphs): spoken turns encode only new audio")
    release_weight_pages: bool = opt(True, "After load, drop the clean file pages ONNX Runtime read while repacking "
                                           "weights (they are not used again; Linux)")


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = opt(True, "Connect to an MQTT broker for smart-home devices")
    host: str = opt("localhost", "Broker host name or address")
    port: int = opt(1883, "Broker port", range=(1, 65535))
    username: str = opt("", "User name ('' = anonymous)")
    password_file: str = opt("", "File holding the password ('' = $CREDENTIALS_DIRECTORY/mqtt_password if present)")
    password: str = opt("", "(filled from password_file)", secret="mqtt_password")
    tls: bool = opt(False, "Connect with TLS")
    ca_file: str = opt("", "CA certificate for TLS ('' = system store)")
    cert_file: str = opt("", "Client certificate for TLS ('' = none)")
    key_file: str = opt("", "Private key of the client certificate ('' = none)")
    client_id: str = opt("gemma-assistant", "Stable MQTT client id")
    discovery_prefix: str = opt("homeassistant", "Home Assistant discovery prefix")
    z2m_base_topic: str = opt("zigbee2mqtt", "zigbee2mqtt base topic")
    tasmota_discovery_prefix: str = opt("tasmota/discovery", "Tasmota native discovery prefix")
    overrides_file: str = opt("", "TOML file of per-device aliases, areas, hide and sensitive flags")
    publish_timeout_s: float = opt(2.0, "Wait this long for the broker to acknowledge a command", range=(0.1, 30.0))
    state_echo_timeout_s: float = opt(2.0, "Wait this long for a device to confirm (0 = do not wait)", range=(0.0, 30.0))
    connect_timeout_s: float = opt(5.0, "Wait this long for the broker at start-up", range=(0.5, 120.0))
    command_expiry_s: int = opt(10, "The broker discards a command not delivered within this many seconds", range=(1, 3600))
    confirm_timeout_s: float = opt(30.0, "A question about a lock, alarm or garage door expires after this", range=(1.0, 600.0))
    max_tool_devices: int = opt(40, "Offer the model at most this many devices, the most relevant first", range=(1, 1000))
    area: str = opt("", "The room the assistant stands in; its devices win ties ('' = none)")
    announce: bool = opt(True, "Announce the assistant to Home Assistant (status, mute switch, last action)")
    announce_topic: str = opt("assistant", "Base topic of the assistant's own entities (client_id is appended)")
    allow_topics: str = opt("", "Command topics (MQTT filters, comma-separated) a device may use although they lie in a "
                                "control namespace (zigbee2mqtt bridge, discovery prefixes, $SYS); '' = none")
    arbitrate: bool = opt(True, "Several assistants on one broker: claim each wake word, the one that heard it "
                               "best answers, the others stay quiet (each needs its own client_id)")
    arbitration_window_ms: int = opt(150, "How long claims of other assistants are awaited after a wake word "
                                          "(only when another assistant is online)", range=(0, 1000))
    wake_level_offset_db: float = opt(0.0, "Added to this assistant's wake-word loudness in claims "
                                           "(raise it for a quiet microphone)", range=(-40.0, 40.0))


@dataclass(frozen=True)
class RemoteTierConfig:
    name: str = opt("desktop", "Name used in logs and turn records")
    enabled: bool = opt(True, "Use this tier (false keeps it configured but never contacted)")
    url: str = opt("http://127.0.0.1:8080/v1", "Base URL of the OpenAI-compatible API")
    model: str = opt("gemma-4-26b-a4b", "Model name the server knows")
    server: str = opt("llama-server", "Server kind, for its quirks", choices=("llama-server", "ollama", "vllm", "openai"))
    api_key_file: str = opt("", "File holding the API key ('' = none)")
    api_key: str = opt("", "(filled from api_key_file)", secret="tier_api_key")
    ca_file: str = opt("", "CA certificate to trust for an https URL ('' = system store)")
    timeout_s: float = opt(20.0, "Give up on this tier after this many seconds", range=(0.5, 600.0))
    connect_timeout_s: float = opt(3.0, "Give up connecting to this tier after this many seconds", range=(0.1, 60.0))
    max_tokens: int = opt(512, "Most tokens this tier may generate for one answer", range=(1, 32768))
    thinking: bool = opt(False, "Ask this tier to think first (thinking is never spoken)")


@dataclass(frozen=True)
class RouteRuleConfig:
    pattern: str = opt("", "Regular expression (case-insensitive) searched in the request text")
    tier: str = opt("local", "Where matching requests go: 'local', 'remote' or the name of one remote tier")


@dataclass(frozen=True)
class TiersConfig:
    privacy: str = opt("text", "What may leave the device: 'off' = nothing, 'text' = text only", choices=("off", "text"))
    remote: tuple[RemoteTierConfig, ...] = opt((), "Remote tiers, tried in order ([[tiers.remote]] tables)")
    rules: tuple[RouteRuleConfig, ...] = opt((), "Routing rules, first match wins ([[tiers.rules]] tables)")
    escalation_tool: str = opt("ask_expert", "Name of the tool the local model calls to ask a remote tier")
    breaker_failures: int = opt(2, "Consecutive failures after which a tier is left alone", range=(1, 100))
    breaker_cooldown_s: float = opt(60.0, "How long a failed tier is left alone before it is tried again", range=(0.0, 86400.0))
    fallback_notice: str = opt(
        "The expert is not reachable, so I will answer myself.",
        "Spoken when a remote tier fails and the local model answers instead",
    )


@dataclass(frozen=True)
class TtsConfig:
    engine: str = opt("espeak", "Speech synthesiser", choices=("espeak", "piper"))
    voice: str = opt("en-us", "espeak-ng voice")
    rate_wpm: int = opt(170, "espeak-ng speaking rate in words per minute", range=(80, 450))
    piper_model: str = opt("", "Piper .onnx voice file (its .onnx.json beside it)")
    fallback: bool = opt(True, "If the Piper voice cannot be loaded, warn and speak with espeak-ng instead")


@dataclass(frozen=True)
class AnnounceConfig:
    enabled: bool = opt(True, "Speak texts published on the announce topics (and the Home Assistant notify entity)")
    chime: bool = opt(True, "Play a chime before an announcement (a JSON payload's \"chime\" overrides it)")
    max_chars: int = opt(400, "Longer announcements are refused", range=(1, 5000))
    per_minute: int = opt(6, "Announcements accepted per minute, after a burst (more are refused)", range=(1, 600))
    burst: int = opt(3, "Announcements accepted at once before the per-minute rate applies", range=(1, 100))
    max_queued: int = opt(20, "Announcements waiting to be spoken at most (more are refused)", range=(1, 1000))


@dataclass(frozen=True)
class VoiceConfig:
    language: str = opt("de", "Language code (en, de, fr, es)")
    espeak_voice: str = opt("", "espeak-ng voice for it ('' = the built-in choice)")
    piper_model: str = opt("", "Piper .onnx voice for it ('' = espeak-ng)")


@dataclass(frozen=True)
class LanguageConfig:
    default: str = opt("en", "The household's language: replies and fixed phrases when no other is detected",
                       choices=("en", "de", "fr", "es"))
    reply: str = opt("auto", "'auto': reply in the language the user spoke; 'fixed': always in the default language",
                     choices=("auto", "fixed"))
    voices: tuple[VoiceConfig, ...] = opt((), "Per-language voices ([[language.voices]] tables)")


@dataclass(frozen=True)
class ServiceConfig:
    state_dir: str = opt("", "State directory ('' = $STATE_DIRECTORY, else ~/.local/state/assistant)")
    follow_up_s: float = opt(5.0, "Listen again without the wake word for this long after a reply", range=(0.0, 60.0))
    hardware_profile: str = opt("auto", "Hardware profile name from hardware/ ('auto' = detect)")
    latency_records: int = opt(200, "Per-turn latency records kept in memory", range=(1, 100000))
    latency_file_records: int = opt(1000, "Per-turn latency records kept in <state_dir>/latency.jsonl", range=(1, 1000000))
    turn_timeout_s: float = opt(180.0, "A turn still running after this long is abandoned (and, if stuck, the watchdog fires)",
                                range=(10.0, 3600.0))
    history_turns: int = opt(2, "Earlier turns of a conversation sent to the model again in a follow-up", range=(0, 20))
    tool_grammar: str = opt("auto", "Tool calls follow the devices' grammar: 'constrain' (when the model calls one), "
                            "'force' (every reply is a call), 'off', 'auto' (constrain unless a remote tier is used)",
                            choices=("auto", "constrain", "force", "off"))
    stream_audio: bool = opt(True, "Encode and prefill speech while the user is still speaking (the local model), "
                             "so the wait after the end of speech does not grow with the utterance")
    own_tools: bool = opt(True, "Offer the model the assistant's own tools (set_volume) beside the device tools")


@dataclass(frozen=True)
class TimersConfig:
    enabled: bool = opt(True, "Offer the timer, alarm and clock tools, and ring timers and alarms")
    time_zone: str = opt("", "Time zone for the time, the date and alarms, e.g. 'Europe/Berlin' ('' = the system's)")
    ring_max_s: float = opt(60.0, "A ringing timer or alarm repeats until stopped, or for at most this long", range=(1.0, 3600.0))
    ring_pause_s: float = opt(2.0, "Silence between two repeats of a ring", range=(0.0, 60.0))
    max_timers: int = opt(10, "Most timers and alarms at once", range=(1, 100))
    names: str = opt("pasta,rice,eggs,tea,pizza,oven,bread,cake,laundry,nap,break",
                     "Names the model may give a timer, comma-separated (a closed set under the grammar)")
    require_clock_sync: bool = opt(True, "Refuse alarms while the system clock is not synchronised")
    ring_everywhere: bool = opt(False, "Also ring the timers of the other assistants on the broker (their names, the same tone)")


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    wakeword: WakeWordConfig = field(default_factory=WakeWordConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    tiers: TiersConfig = field(default_factory=TiersConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    announce: AnnounceConfig = field(default_factory=AnnounceConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    timers: TimersConfig = field(default_factory=TimersConfig)
    source: str = field(default="(built-in defaults)", compare=False)
