"""`rtc_keygen`, the installed command: a key pair the nodes load, its id printed, nothing overwritten."""
from __future__ import annotations

import stat
import subprocess

from rtc_contract.chunk_signature import ChunkSigner, key_id, load_private_key, load_public_key


def rtc_keygen(*args: str) -> subprocess.CompletedProcess:
    from ament_index_python.packages import get_package_prefix

    script = get_package_prefix("rtc_contract") + "/lib/rtc_contract/rtc_keygen"
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=60)


def test_rtc_keygen_writes_a_key_pair_and_prints_its_id(tmp_path):
    result = rtc_keygen(str(tmp_path / "policy"))
    assert result.returncode == 0, result.stderr
    kid = key_id(load_public_key(tmp_path / "policy.pub"))
    assert result.stdout.startswith(f"key id {kid}: private key {tmp_path / 'policy.key'}")
    assert ChunkSigner(load_private_key(tmp_path / "policy.key")).key_id == kid
    assert stat.S_IMODE((tmp_path / "policy.key").stat().st_mode) == 0o600

    again = rtc_keygen(str(tmp_path / "policy"))
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip().splitlines() == [
        f"rtc_keygen: {tmp_path / 'policy.key'} exists; choose another prefix (keys are never overwritten)"]
    assert key_id(load_public_key(tmp_path / "policy.pub")) == kid
