"""Hardware detection and profiles: which Gemma 4 model runs where, with how many threads."""

from assistant.hardware.detect import Gpu, Machine, detect
from assistant.hardware.profiles import Profile, load_profile, load_profiles, recommend, resolve

__all__ = ["Gpu", "Machine", "Profile", "detect", "load_profile", "load_profiles", "recommend", "resolve"]
