"""Tiny (or ~20 M-parameter) LeRobot pi0, pi0.5 and SmolVLA policies built offline, in code.

Nothing is downloaded: every asset is generated here, under a directory the caller owns.
- SmolVLA: `vlm_model_name` points at a local directory holding a small SmolVLM config and its
  processor files (a byte-level BPE tokenizer trained with `tokenizers` on a few sentences, with
  the special tokens SmolVLM's processor reads). Stock transformers (>= 4.57.1) runs it.
- pi0 / pi0.5: LeRobot hard-codes the tokenizer name `google/paligemma-3b-pt-224`, the Gemma sizes
  (`gemma_300m`, `gemma_2b`), the 257152-token vocabulary and SigLIP's full default size. The
  tokenizer is satisfied by an entry in a local `HF_HOME` hub cache (`paligemma_hub_cache`); the
  sizes by `install_small_pi_architecture`, which replaces, inside LeRobot's pi0/pi0.5 modeling
  modules only, `get_gemma_config` and the two transformers model classes they build with
  wrappers that shrink the vocabulary, the Gemma widths and the SigLIP tower before building.
  A process that loads such a checkpoint (the policy node) gets the same replacement at start-up
  through `sitecustomize_dir`. They need LeRobot's patched transformers (see `policy_process_env`).
Set HF_HUB_OFFLINE=1 (`offline_env`): otherwise every missing hub file retries for ~46 s.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
PALIGEMMA_TOKENIZER = "google/paligemma-3b-pt-224"
STATE_DIM = ACTION_DIM = 6
CHUNK = 50
TASK = "reach the red target behind the obstacle"
SIZE_ENV = "RTC_TEST_PI_SIZE"  # carries the pi architecture size into child processes


@dataclass(frozen=True)
class Size:
    """Architecture sizes shared by the three policies (widths, depths, image side)."""

    width: int          # VLM / PaliGemma text width
    expert_width: int   # pi action expert width (SmolVLA derives its expert from expert_width_multiplier)
    depth: int          # transformer layers
    heads: int
    head_dim: int
    vision_width: int
    vision_depth: int
    image: int          # square input side the vision tower takes
    patch: int
    vocab: int = 512


SIZES = {
    "tiny": Size(width=32, expert_width=32, depth=2, heads=2, head_dim=16, vision_width=32, vision_depth=1,
                 image=32, patch=8),
    # ~20 M parameters per policy (the measured range, at 224 px).
    "20m": Size(width=256, expert_width=192, depth=12, heads=4, head_dim=64, vision_width=256, vision_depth=10,
                image=224, patch=16),
}


def offline_env(hf_home: Path) -> dict[str, str]:
    """Environment for a process that must never reach the hub."""
    return {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(hf_home)}


def vendor_dir() -> Path:
    """The shared vendor folder next to the checkout (CI: a copy of shared/ beside the clone)."""
    return Path(os.environ.get("RTC_VENDOR_DIR", REPO.parent / "shared" / "vendor"))


class VendorAbsent(Exception):
    """The shared vendor folder with LeRobot's transformers patch is not next to the checkout."""


def policy_process_env(kind: str, hf_home: Path, size_name: str = "tiny") -> dict[str, str]:
    """Environment for a process that builds or loads a `kind` policy: offline; for pi0/pi0.5 the
    patched transformers and the small architecture first on PYTHONPATH (see sitecustomize_dir)."""
    env = {**os.environ, **offline_env(hf_home)}
    if kind in ("pi0", "pi05"):
        vendor = vendor_dir() / "openpi-transformers-replace"
        if not vendor.is_dir():
            raise VendorAbsent(f"{vendor} is absent: LeRobot's pi0/pi0.5 need its patched transformers")
        built = REPO / ".ws" / "transformers-openpi"
        if not (built / "transformers" / "models" / "siglip" / "check.py").is_file():
            raise RuntimeError(f"{vendor} exists but tools/setup.sh has not built {built}")
        paths = [str(sitecustomize_dir(hf_home.parent)), str(built), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
        env[SIZE_ENV] = size_name
    return env


# ----- tokenizers ---------------------------------------------------------------------------------
_CORPUS = [TASK, "pick up the cube", "put it in the bowl", "move the arm to the left", "open the gripper",
           "close the gripper", "User: Assistant: image 0 1 2 3 4 5 6 7 8 9 Action: State: ;"] * 4


def _train_bpe(vocab: int, special: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab - 8, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(_CORPUS, trainer)
    return tokenizer


def _fast_tokenizer(vocab: int, special: list[str], **kwargs):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=_train_bpe(vocab, special), **kwargs)


def paligemma_hub_cache(hf_home: Path, vocab: int) -> Path:
    """A hub-cache entry for the tokenizer name pi0/pi0.5 hard-code, holding a small BPE tokenizer."""
    repo = hf_home / "hub" / ("models--" + PALIGEMMA_TOKENIZER.replace("/", "--"))
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    if not (snapshot / "tokenizer.json").is_file():
        tokenizer = _fast_tokenizer(vocab, ["<pad>", "<eos>", "<bos>", "<unk>"], pad_token="<pad>",
                                    eos_token="<eos>", bos_token="<bos>", unk_token="<unk>")
        tokenizer.save_pretrained(snapshot)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
    return snapshot


def smolvlm_dir(root: Path, size: Size) -> Path:
    """A SmolVLM config and processor directory for SmolVLA's `vlm_model_name` (no weights)."""
    from transformers import SmolVLMConfig, SmolVLMImageProcessor, SmolVLMProcessor, SmolVLMVideoProcessor

    path = root / "smolvlm"
    if (path / "config.json").is_file():
        return path
    special = {"fake_image_token": "<fake_token_around_image>", "image_token": "<image>",
               "end_of_utterance_token": "<end_of_utterance>", "global_image_token": "<global-img>"}
    tokenizer = _fast_tokenizer(size.vocab, ["<|endoftext|>", "<unk>", *special.values()],
                                bos_token="<|endoftext|>", eos_token="<end_of_utterance>",
                                pad_token="<|endoftext|>", unk_token="<unk>", extra_special_tokens=special)
    image_processor = SmolVLMImageProcessor(size={"longest_edge": size.image},
                                            max_image_size={"longest_edge": size.image})
    processor = SmolVLMProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                 video_processor=SmolVLMVideoProcessor(), image_seq_len=(size.image // size.patch // 2) ** 2)
    processor.save_pretrained(path)
    config = SmolVLMConfig(
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2,
        text_config=dict(model_type="llama", vocab_size=len(tokenizer), hidden_size=size.width,
                         intermediate_size=2 * size.width, num_hidden_layers=size.depth,
                         num_attention_heads=size.heads, num_key_value_heads=size.heads,
                         head_dim=size.head_dim, max_position_embeddings=1024, tie_word_embeddings=False),
        vision_config=dict(hidden_size=size.vision_width, intermediate_size=2 * size.vision_width,
                           num_hidden_layers=size.vision_depth, num_attention_heads=size.heads,
                           image_size=size.image, patch_size=size.patch),
    )
    config.save_pretrained(path)
    return path


# ----- policy configs -----------------------------------------------------------------------------
def _features(cameras: tuple[str, ...], image_side: int):
    from lerobot.configs.types import FeatureType, PolicyFeature

    inputs = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(STATE_DIM,))}
    for name in cameras:
        inputs[f"observation.images.{name}"] = PolicyFeature(type=FeatureType.VISUAL, shape=(3, image_side, image_side))
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(ACTION_DIM,))}
    return inputs, outputs


def dataset_stats(cameras: tuple[str, ...]) -> dict[str, dict[str, torch.Tensor]]:
    """Normalization statistics in the SO-100 feature units (degrees, gripper 0..100)."""
    stats = {key: {"mean": torch.zeros(ACTION_DIM), "std": torch.full((ACTION_DIM,), 40.0),
                   "min": torch.full((ACTION_DIM,), -100.0), "max": torch.full((ACTION_DIM,), 100.0),
                   "q01": torch.full((ACTION_DIM,), -90.0), "q99": torch.full((ACTION_DIM,), 90.0)}
             for key in ("observation.state", "action")}
    for name in cameras:
        stats[f"observation.images.{name}"] = {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25),
                                               "min": torch.zeros(3, 1, 1), "max": torch.ones(3, 1, 1)}
    return stats


def policy_config(kind: str, root: Path, size: Size, cameras: tuple[str, ...] = ("front",), camera_side: int = 96,
                  num_steps: int = 10):
    """The LeRobot config of a `kind` policy (pi0 | pi05 | smolvla) of this size, RTC enabled."""
    from lerobot.configs.types import RTCAttentionSchedule
    from lerobot.policies.rtc.configuration_rtc import RTCConfig

    inputs, outputs = _features(cameras, camera_side)
    rtc = RTCConfig(enabled=True, execution_horizon=25, max_guidance_weight=10.0,
                    prefix_attention_schedule=RTCAttentionSchedule.LINEAR)
    common = dict(input_features=inputs, output_features=outputs, chunk_size=CHUNK, n_action_steps=CHUNK,
                  device="cpu", rtc_config=rtc, push_to_hub=False)
    if kind == "smolvla":
        from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig

        return SmolVLAConfig(**common, vlm_model_name=str(smolvlm_dir(root, size)), load_vlm_weights=False,
                             resize_imgs_with_padding=(size.image, size.image), num_vlm_layers=size.depth,
                             num_expert_layers=-1, num_steps=num_steps, tokenizer_max_length=24)
    if kind == "pi0":
        from lerobot.policies.pi0.configuration_pi0 import PI0Config as Config
    elif kind == "pi05":
        from lerobot.policies.pi05.configuration_pi05 import PI05Config as Config
    else:
        raise ValueError(f"unknown policy kind {kind!r}")
    return Config(**common, image_resolution=(size.image, size.image), num_inference_steps=num_steps,
                  tokenizer_max_length=24)


def build_policy(kind: str, root: Path, size_name: str = "tiny", seed: int = 0, **config_args):
    """(policy, preprocessor, postprocessor) of a freshly initialised `kind` policy, in eval mode."""
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    size = SIZES[size_name]
    if kind in ("pi0", "pi05"):
        install_small_pi_architecture(size_name)
        paligemma_hub_cache(Path(os.environ["HF_HOME"]), size.vocab)
    config = policy_config(kind, root, size, **config_args)
    torch.manual_seed(seed)
    policy = get_policy_class(kind)(config)
    policy.eval()
    cameras = config_args.get("cameras", ("front",))
    preprocessor, postprocessor = make_pre_post_processors(config, dataset_stats=dataset_stats(cameras))
    return policy, preprocessor, postprocessor


def save_checkpoint(kind: str, root: Path, path: Path, size_name: str = "tiny", **config_args) -> Path:
    """A local directory in LeRobot's pretrained format, as `lerobot-train` writes it.

    The weights file holds every tensor, tied ones included: `save_pretrained` drops PaliGemma's
    tied `embed_tokens`, and pi0/pi0.5's `from_pretrained` then fails its strict load and keeps
    the random initialisation with only a printed warning (published pi checkpoints carry it).
    """
    from safetensors.torch import save_file

    policy, preprocessor, postprocessor = build_policy(kind, root, size_name, **config_args)
    policy.save_pretrained(path)
    save_file({k: v.detach().clone().contiguous() for k, v in policy.state_dict().items()}, path / "model.safetensors")
    preprocessor.save_pretrained(path)
    postprocessor.save_pretrained(path)
    return path


# ----- small pi architectures ---------------------------------------------------------------------
_PI_MODULES = ("lerobot.policies.pi0.modeling_pi0", "lerobot.policies.pi05.modeling_pi05")


def _shrink_pi_module(module, size: Size) -> None:
    """Replace, in one LeRobot pi modeling module, the fixed sizes by `size` (see module docstring)."""
    if getattr(module, "_rtc_small_size", None) == size:
        return
    original_gemma, original_paligemma = module.GemmaForCausalLM, module.PaliGemmaForConditionalGeneration
    original_gemma = getattr(original_gemma, "_rtc_original", original_gemma)
    original_paligemma = getattr(original_paligemma, "_rtc_original", original_paligemma)
    gemma_config_class = module.GemmaConfig

    def get_gemma_config(variant: str):
        width = size.width if variant == "gemma_2b" else size.expert_width
        return gemma_config_class(width=width, depth=size.depth, mlp_dim=2 * width, num_heads=size.heads,
                                  num_kv_heads=1, head_dim=size.head_dim)

    def paligemma(config):
        config._vocab_size = config.text_config.vocab_size = size.vocab
        config.image_token_index = size.vocab - 1
        vision = config.vision_config
        vision.hidden_size, vision.intermediate_size = size.vision_width, 2 * size.vision_width
        vision.num_hidden_layers, vision.num_attention_heads = size.vision_depth, size.heads
        vision.patch_size, vision.projection_dim = size.patch, config.text_config.hidden_size
        config.projection_dim = config.hidden_size = config.text_config.hidden_size
        return original_paligemma(config=config)

    def gemma(config):
        config.vocab_size = size.vocab
        return original_gemma(config=config)

    paligemma._rtc_original, gemma._rtc_original = original_paligemma, original_gemma
    module.get_gemma_config, module.PaliGemmaForConditionalGeneration, module.GemmaForCausalLM = \
        get_gemma_config, paligemma, gemma
    module._rtc_small_size = size


class _ShrinkOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Shrinks LeRobot's pi modeling modules as they are imported (for processes that load checkpoints)."""

    def __init__(self, size: Size) -> None:
        self.size = size

    def find_spec(self, name, path, target=None):
        if name not in _PI_MODULES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        self._inner = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        _shrink_pi_module(module, self.size)


def install_small_pi_architecture(size_name: str) -> None:
    """Make LeRobot's pi0/pi0.5 build `size_name` models in this process (now or when imported)."""
    size = SIZES[size_name]
    os.environ[SIZE_ENV] = size_name
    for name in _PI_MODULES:
        if name in sys.modules:
            _shrink_pi_module(sys.modules[name], size)
    if not any(isinstance(finder, _ShrinkOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ShrinkOnImport(size))


def sitecustomize_dir(root: Path) -> Path:
    """A directory to put first on PYTHONPATH of child processes: its sitecustomize installs the
    small pi architecture named by RTC_TEST_PI_SIZE (the policy node must build what was saved)."""
    path = root / "pi_sitecustomize"
    path.mkdir(parents=True, exist_ok=True)
    (path / "sitecustomize.py").write_text(
        "import os, sys\n"
        f"if os.environ.get({SIZE_ENV!r}):\n"
        f"    sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "    import vla_fixtures\n"
        f"    vla_fixtures.install_small_pi_architecture(os.environ[{SIZE_ENV!r}])\n"
        "    sys.path.pop(0)\n")
    return path


def parameter_count(policy: torch.nn.Module) -> int:
    return sum(p.numel() for p in policy.parameters())


def main(argv: list[str]) -> int:
    """`python vla_fixtures.py KIND ROOT CHECKPOINT_DIR [camera ...]`: write a tiny checkpoint
    (run in the environment `policy_process_env` gives)."""
    kind, root, path, cameras = argv[0], Path(argv[1]), Path(argv[2]), tuple(argv[3:]) or ("front",)
    save_checkpoint(kind, root, path, cameras=cameras)
    print(json.dumps({"checkpoint": str(path), "size": asdict(SIZES["tiny"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
