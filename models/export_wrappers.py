"""Export wrappers: the three published graphs as plain ``nn.Module`` s over the HF Gemma 4 modules.

- ``EmbedTokens``: ``input_ids -> inputs_embeds, per_layer_inputs`` (token-identity half of PLE only).
- ``AudioEncoder``: ``input_features, input_features_mask -> audio_features [num_audio_tokens, hidden]``
  (audio tower + ``embed_audio``, padding rows stripped), written out explicitly so the legacy
  TorchScript exporter can trace it for any number of frames.
- ``Decoder``: an explicit re-implementation of ``Gemma4TextModel.forward`` + ``lm_head`` + soft-cap with
  tensor KV: own-cache layers concatenate their past, ``store`` layers hand their full-length K/V to the
  ``reuse`` layers of the same type, and the sliding window lives in the mask.

Each wrapper takes the submodules it needs, not a whole model, so a caller can build a full-size
model layer by layer (issue 8) and hand the layers over without holding everything at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from transformers.models.gemma4 import modeling_gemma4 as g4


class EmbedTokens(nn.Module):
    """``embed_tokens(ids) * sqrt(hidden)`` and ``embed_tokens_per_layer(ids) * sqrt(ple_dim)`` as [B, S, L, D]."""

    def __init__(self, language_model: g4.Gemma4TextModel) -> None:
        super().__init__()
        self.lm = language_model

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lm.embed_tokens(input_ids), self.lm.get_per_layer_inputs(input_ids, None)


def _gather_block_context(self: g4.Gemma4AudioAttention, hidden_states: torch.Tensor) -> torch.Tensor:
    """``_extract_block_context`` with ``Tensor.unfold`` replaced by an index gather (same values)."""
    padded = nn.functional.pad(
        hidden_states, (0, 0, 0, 0, self.max_past_horizon, self.max_future_horizon + self.chunk_size - 1)
    )
    num_blocks = (hidden_states.shape[1] + self.chunk_size - 1) // self.chunk_size
    idx = torch.arange(num_blocks)[:, None] * self.chunk_size + torch.arange(self.context_size)[None, :]
    return padded[:, idx]


@contextlib.contextmanager
def exportable_audio_attention() -> Iterator[None]:
    """Temporarily patch the audio attention so that the legacy exporter can trace it."""
    original = g4.Gemma4AudioAttention._extract_block_context
    g4.Gemma4AudioAttention._extract_block_context = _gather_block_context  # type: ignore[method-assign]
    try:
        yield
    finally:
        g4.Gemma4AudioAttention._extract_block_context = original  # type: ignore[method-assign]


class AudioEncoder(nn.Module):
    """Audio tower + ``embed_audio``; returns only the valid soft tokens, ``[num_audio_tokens, hidden]``."""

    def __init__(self, audio_tower: g4.Gemma4AudioModel, embed_audio: g4.Gemma4MultimodalEmbedder) -> None:
        super().__init__()
        self.tower = audio_tower
        self.embed_audio = embed_audio
        cfg = audio_tower.config
        self.left = cfg.attention_context_left - 1
        self.right = cfg.attention_context_right

    def forward(self, input_features: torch.Tensor, input_features_mask: torch.Tensor) -> torch.Tensor:
        hidden, out_mask = self.tower.subsample_conv_projection(input_features, input_features_mask)
        position_embeddings = self.tower.rel_pos_enc(hidden)
        steps = torch.arange(hidden.shape[1])
        dist = steps[:, None] - steps[None, :]
        ok = ((dist >= 0) & (dist < self.left)) | ((dist < 0) & (-dist < self.right))
        ok = ok[None, None] & out_mask[:, None, None, :]
        mask_4d = torch.where(ok, 0.0, torch.finfo(torch.float32).min)
        mask_5d = self.tower._convert_4d_mask_to_blocked_5d(mask_4d)
        for layer in self.tower.layers:
            hidden = layer(hidden, attention_mask=mask_5d, position_embeddings=position_embeddings)
        features = self.embed_audio(self.tower.output_proj(hidden))
        return features[out_mask]


class Decoder(nn.Module):
    """The text decoder with tensor KV; inputs/outputs in the order ``decoder_io_names`` gives."""

    def __init__(self, language_model: g4.Gemma4TextModel, lm_head: nn.Linear) -> None:
        super().__init__()
        self.lm = language_model
        self.lm_head = lm_head
        cfg = language_model.config
        self.layer_types = list(cfg.layer_types)
        self.modes = cfg.kv_sharing_modes
        self.window = cfg.sliding_window
        self.softcap = cfg.final_logit_softcapping
        self.num_cached = cfg.num_hidden_layers - cfg.num_kv_shared_layers

    def _masks(self, attention_mask: torch.Tensor, past_len: torch.Tensor, seq_len: int) -> dict[str, torch.Tensor]:
        """Boolean [B, 1, S, total] masks per layer type: causal (+ window for sliding) AND padding."""
        total = attention_mask.shape[1]
        q = torch.arange(seq_len)[:, None] + past_len
        kv = torch.arange(total)[None, :]
        pad = attention_mask.bool()[:, None, None, :]
        causal = kv <= q
        sliding = causal & (kv > q - self.window)
        return {"full_attention": causal[None, None] & pad, "sliding_attention": sliding[None, None] & pad}

    def _attention(self, layer: g4.Gemma4TextDecoderLayer, x: torch.Tensor, cos_sin: tuple[torch.Tensor, torch.Tensor],
                   mask: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None,
                   shared: dict[str, tuple[torch.Tensor, torch.Tensor]], i: int) -> tuple[torch.Tensor, tuple | None]:
        attn = layer.self_attn
        cos, sin = cos_sin
        shape = (*x.shape[:-1], -1, attn.head_dim)
        q = g4.apply_rotary_pos_emb(attn.q_norm(attn.q_proj(x).view(shape)), cos, sin, unsqueeze_dim=2).transpose(1, 2)
        present = None
        if self.modes[i] == "reuse":
            k, v = shared[self.layer_types[i]]
        else:
            k_raw = attn.k_proj(x).view(shape)
            v_raw = attn.v_proj(x).view(shape) if attn.v_proj is not None else k_raw
            k = g4.apply_rotary_pos_emb(attn.k_norm(k_raw), cos, sin, unsqueeze_dim=2).transpose(1, 2)
            v = attn.v_norm(v_raw).transpose(1, 2)
            assert past is not None
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
            present = (k, v)
            if self.modes[i] == "store":
                shared[self.layer_types[i]] = (k, v)
        k = g4.repeat_kv(k, attn.num_key_value_groups)
        v = g4.repeat_kv(v, attn.num_key_value_groups)
        scores = torch.matmul(q, k.transpose(2, 3)) * attn.scaling
        scores = torch.where(mask, scores, torch.finfo(torch.float32).min)
        weights = torch.softmax(scores.float(), dim=-1).to(q.dtype)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(*x.shape[:-1], -1)
        return attn.o_proj(out), present

    def _layer(self, i: int, h: torch.Tensor, ple: torch.Tensor, cos_sin: tuple[torch.Tensor, torch.Tensor],
               mask: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None,
               shared: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, tuple | None]:
        layer = self.lm.layers[i]
        attn_out, present = self._attention(layer, layer.input_layernorm(h), cos_sin, mask, past, shared, i)
        h = h + layer.post_attention_layernorm(attn_out)
        h = h + layer.post_feedforward_layernorm(layer.mlp(layer.pre_feedforward_layernorm(h)))
        gate = layer.act_fn(layer.per_layer_input_gate(h)) * ple[:, :, i, :]
        h = h + layer.post_per_layer_input_norm(layer.per_layer_projection(gate))
        return h * layer.layer_scalar, present

    def forward(self, inputs_embeds: torch.Tensor, per_layer_inputs: torch.Tensor, attention_mask: torch.Tensor,
                position_ids: torch.Tensor, num_logits_to_keep: torch.Tensor, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ple = self.lm.project_per_layer_inputs(inputs_embeds, per_layer_inputs)
        seq_len = inputs_embeds.shape[1]
        masks = self._masks(attention_mask, past[0].shape[2], seq_len)
        rope = {t: self.lm.rotary_emb(inputs_embeds, position_ids, t) for t in sorted(set(self.layer_types))}
        shared: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        presents: list[torch.Tensor] = []
        h = inputs_embeds
        for i, layer_type in enumerate(self.layer_types):
            own = (past[2 * i], past[2 * i + 1]) if i < self.num_cached else None
            h, present = self._layer(i, h, ple, rope[layer_type], masks[layer_type], own, shared)
            if present is not None:
                presents.extend(present)
        h = self.lm.norm(h)
        start = torch.where(num_logits_to_keep > 0, seq_len - num_logits_to_keep, torch.zeros_like(num_logits_to_keep))
        h = torch.index_select(h, 1, torch.arange(start, seq_len))
        logits = self.lm_head(h)
        if self.softcap is not None:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return (logits, *presents)
