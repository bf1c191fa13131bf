"""rtc_sros2: an SROS2 keystore with the RTC graph's enclaves and access-control policy.

    rtc_sros2 KEYSTORE [--namespace NS] [--domain-id N] [--cameras name=topic,...]

Writes the layout `ros2 security create_keystore` and `create_enclave` make, with the permissions
of rtc_bringup.sros2_policy instead of sros2's allow-everything default:

    public/ca.cert.pem, identity_ca.cert.pem, permissions_ca.cert.pem (the last two link the first)
    private/ca.key.pem, identity_ca.key.pem, permissions_ca.key.pem
    enclaves/governance.xml, governance.p7s
    enclaves/rtc/<node>/cert.pem, key.pem, permissions.xml, permissions.p7s,
                        identity_ca.cert.pem, permissions_ca.cert.pem, governance.p7s (links)
    policy.xml  (the policy in sros2's format, for `ros2 security generate_artifacts -p`)

Keys and certificates are P-256 ECDSA as DDS-Security asks; governance and permissions are signed
as S/MIME (detached, text) by the permissions CA, as sros2 signs them. An existing CA and existing
enclave keys are kept, so it can rerun (another namespace, domain or camera list) on a keystore
that nodes already trust; the permissions and governance are rewritten each time.
Only for a ROS 2 whose DDS has security (from apt); docs/sros2.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from rtc_bringup.graph import camera_entries, relative_namespace
from rtc_bringup.sros2_policy import Enclave, governance_xml, graph_enclaves, permissions_xml, policy_xml

CA_NAME = "rtc_sros2 CA"
VALID_DAYS = 3650
_PUBLIC, _PRIVATE, _ENCLAVES = "public", "private", "enclaves"


def build_certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
                      issuer_key: ec.EllipticCurvePrivateKey | None) -> x509.Certificate:
    """A certificate for `key` with CN=subject: self-signed CA without issuer, else an end entity."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    is_ca = issuer is None
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(name if is_ca else issuer.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))  # tolerates clocks a little behind
               .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=1 if is_ca else None), critical=is_ca))
    return builder.sign(key if is_ca else issuer_key, hashes.SHA256())


def smime_sign(content: bytes, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    """`content` as a detached, text-mode S/MIME signature (what DDS-Security reads as a .p7s)."""
    return (pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Text, pkcs7.PKCS7Options.DetachedSignature]))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _link(link: Path, target: Path) -> None:
    """A relative symlink, as sros2 makes them, replacing whatever is there."""
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def _key_and_cert(key_path: Path, cert_path: Path, subject: str, issuer: x509.Certificate | None = None,
                  issuer_key: ec.EllipticCurvePrivateKey | None = None):
    """The key and certificate at these paths, made if either is missing."""
    if key_path.is_file() and cert_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build_certificate(subject, key, issuer, issuer_key)
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _iso(moment: datetime.datetime) -> str:
    return moment.replace(tzinfo=None).isoformat()


def write_keystore(root: Path, enclaves: list[Enclave], namespace: str = "", domain_id: int = 0) -> None:
    """The keystore at `root`: one CA (identity and permissions), governance, and per enclave a key,
    a certificate and its signed permissions."""
    public, private, enclaves_dir = root / _PUBLIC, root / _PRIVATE, root / _ENCLAVES
    for directory in (public, private, enclaves_dir):
        directory.mkdir(parents=True, exist_ok=True)
    private.chmod(0o700)
    ca_key, ca_cert = _key_and_cert(private / "ca.key.pem", public / "ca.cert.pem", CA_NAME)
    for role in ("identity_ca", "permissions_ca"):
        _link(public / f"{role}.cert.pem", public / "ca.cert.pem")
        _link(private / f"{role}.key.pem", private / "ca.key.pem")
    governance = enclaves_dir / "governance.xml"
    governance.write_text(governance_xml(domain_id))
    (enclaves_dir / "governance.p7s").write_bytes(smime_sign(governance.read_bytes(), ca_cert, ca_key))
    for enclave in enclaves:
        directory = enclaves_dir / enclave.path.lstrip("/")
        directory.mkdir(parents=True, exist_ok=True)
        _, cert = _key_and_cert(directory / "key.pem", directory / "cert.pem", enclave.path, ca_cert, ca_key)
        for name in ("identity_ca.cert.pem", "permissions_ca.cert.pem"):
            _link(directory / name, public / name)
        _link(directory / "governance.p7s", enclaves_dir / "governance.p7s")
        permissions = directory / "permissions.xml"
        permissions.write_text(permissions_xml(enclave, namespace, domain_id, _iso(cert.not_valid_before_utc),
                                               _iso(cert.not_valid_after_utc)))
        (directory / "permissions.p7s").write_bytes(smime_sign(permissions.read_bytes(), ca_cert, ca_key))
    (root / "policy.xml").write_text(policy_xml(enclaves, namespace))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtc_sros2", description=__doc__.split("\n\n")[0])
    parser.add_argument("keystore", type=Path, help="keystore directory (created or updated)")
    parser.add_argument("--namespace", default="", help="the graph's namespace:= (e.g. arm1); default none")
    parser.add_argument("--domain-id", default=os.environ.get("ROS_DOMAIN_ID", "") or "0",
                        help="DDS domain the permissions and governance allow (default: $ROS_DOMAIN_ID or 0)")
    parser.add_argument("--cameras", default="", help="the policy's cameras:= (name=topic,...); "
                        "default: the simulated camera's topic")
    args = parser.parse_args(argv)
    try:
        namespace = relative_namespace(args.namespace)
        cameras = [e.partition("=")[2] for e in camera_entries(args.cameras)]
        domain_id = int(args.domain_id) if args.domain_id.strip().isdigit() else -1
        if not 0 <= domain_id <= 232:
            raise ValueError(f"--domain-id {args.domain_id}: expected 0 to 232")
    except ValueError as exc:
        print(f"rtc_sros2: {exc}", file=sys.stderr)
        return 2
    enclaves = graph_enclaves(cameras)
    root = args.keystore.resolve()
    try:
        write_keystore(root, enclaves, namespace, domain_id)
    except OSError as exc:
        print(f"rtc_sros2: cannot write the keystore {root}: {exc}", file=sys.stderr)
        return 1
    print(f"rtc_sros2: keystore {root}: enclaves {', '.join(e.path for e in enclaves)} "
          f"(namespace '/{namespace}', domain {domain_id})")
    print(f"""In each shell that runs the graph (ROS 2 from apt, a Fast DDS with security; docs/sros2.md):
  export ROS_SECURITY_KEYSTORE={root}
  export ROS_SECURITY_ENABLE=true
  export ROS_SECURITY_STRATEGY=Enforce
  ros2 launch rtc_bringup so100_rtc.launch.py enclaves:=true   # or: ros2 run rtc_bringup rtc_run enclaves:=true
enclaves:=true starts each node with `--ros-args --enclave <path>`, e.g. the policy with --enclave /rtc/policy.
Viewers (ros2 topic echo, record, Foxglove) join the read-only monitor enclave:
  export ROS_SECURITY_ENCLAVE_OVERRIDE=/rtc/monitor""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
