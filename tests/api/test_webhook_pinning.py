"""SSRF and DNS rebinding: a delivery resolves the target's name once, checks every address it
got, and connects to a checked address — with the name in the Host header and, for https,
in TLS's SNI and certificate check. A resolver that answers a private address on the second
lookup never gets the delivery sent there."""

from __future__ import annotations

import datetime as dt
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from governance.errors import Invalid
from governance.models import WebhookDelivery, WebhookSubscription
from governance.services import webhooks
from tests.api.test_webhooks import Receiver, change, eager_celery, fresh_org  # noqa: F401

pytestmark = pytest.mark.django_db

HOST = "hooks.example"
REAL_GETADDRINFO = socket.getaddrinfo


class Resolver:
    """socket.getaddrinfo for HOST answers `answers[n]` on the n-th lookup (the last one
    repeats); every other name is resolved for real (IP literals, the test database)."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host, port, *args, **kwargs):
        if host != HOST:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))
            for address in answer
        ]


@pytest.fixture
def production(settings):
    settings.OPENREFUSAL = {
        **settings.OPENREFUSAL,
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False,
        "WEBHOOK_MAX_ATTEMPTS": 1,
    }


@pytest.fixture
def public_loopback(monkeypatch):
    """127.0.0.1 stands in for a public server (the test's receiver listens there); every
    other address is judged as in production (127.0.0.2 stays a loopback address)."""
    real = webhooks._is_public_address
    monkeypatch.setattr(
        webhooks, "_is_public_address", lambda address: address == "127.0.0.1" or real(address)
    )


def subscription_for(regulator, url) -> WebhookSubscription:
    subscription, _ = webhooks.webhook_subscription_create(actor=regulator, target_url=url)
    return subscription


def test_a_second_lookup_answering_a_private_address_gets_nothing_sent_there(
    regulator,
    staff,
    fresh_org,  # noqa: F811
    eager_celery,  # noqa: F811
    production,
    public_loopback,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    checked = Receiver()  # the "public" server the name resolved to when it was checked
    port = checked.server.server_address[1]
    internal = Receiver(address="127.0.0.2", port=port)  # an internal service, on the same port
    try:
        resolver = Resolver(["127.0.0.1"], ["127.0.0.2"])
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        with django_capture_on_commit_callbacks(execute=True):
            subscription_for(regulator, f"http://{HOST}:{port}/hooks")
        resolver.lookups = 0  # the delivery's own lookups from here

        change(staff, fresh_org, django_capture_on_commit_callbacks)

        assert resolver.lookups == 1  # resolved once, for the check; connected to its answer
        assert internal.requests == []
        assert len(checked.requests) == 1
        assert checked.requests[0]["headers"]["Host"] == f"{HOST}:{port}"
        assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED

        # The next delivery's lookup answers the private address: it is refused, not sent.
        change_again(staff, fresh_org, django_capture_on_commit_callbacks)
        assert internal.requests == []
        assert len(checked.requests) == 1
        failed = WebhookDelivery.objects.order_by("-pk").first()
        assert failed.status == WebhookDelivery.Status.FAILED
        assert "private or reserved address (127.0.0.2)" in failed.error
    finally:
        checked.close()
        internal.close()


def change_again(staff, org, capture):
    from governance.services.organizations import organization_unverify

    with capture(execute=True):
        organization_unverify(actor=staff, organization=org, reason="Checked again.")


@pytest.mark.parametrize(
    ("answer", "blocked"),
    [
        (["8.8.8.8", "10.0.0.5"], "10.0.0.5"),
        (["169.254.169.254"], "169.254.169.254"),
        (["127.0.0.2", "8.8.4.4"], "127.0.0.2"),
    ],
)
def test_every_resolved_address_is_checked(production, monkeypatch, answer, blocked):
    monkeypatch.setattr(socket, "getaddrinfo", Resolver(answer))
    with pytest.raises(Invalid) as caught:
        webhooks.webhook_target(f"https://{HOST}/hooks")
    assert f"private or reserved address ({blocked})" in caught.value.message


def test_the_target_keeps_the_name_for_host_and_sni(production, monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", Resolver(["8.8.8.8", "8.8.4.4", "8.8.8.8"]))
    target = webhooks.webhook_target(f"https://{HOST}:8443/in?x=1")
    assert target.addresses == ("8.8.8.8", "8.8.4.4")
    assert (target.host, target.netloc, target.scheme) == (HOST, f"{HOST}:8443", "https")


def test_tls_checks_certificates_and_host_names():
    context = webhooks._tls_context()
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED


# --- https: SNI and the certificate are checked against the name, not the address ------------


def _certificate(names: list[str]):
    """A CA, and a server certificate it signs for `names` (PEM files' bytes)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem) + key_pem


class TlsReceiver(Receiver):
    """An https server on 127.0.0.1 presenting a certificate for `names`; records the SNI
    name each handshake asked for and each POST."""

    def __init__(self, tmp_path, names):
        ca_pem, chain_pem = _certificate(names)
        self.ca_file = tmp_path / "ca.pem"
        self.ca_file.write_bytes(ca_pem)
        chain = tmp_path / "server.pem"
        chain.write_bytes(chain_pem)
        self.sni: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain)
        context.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        super().__init__(statuses=(204,), tls=context)

    def trust(self, monkeypatch):
        monkeypatch.setattr(
            webhooks, "_tls_context", lambda: ssl.create_default_context(cafile=self.ca_file)
        )


@pytest.fixture
def tls_receiver(tmp_path):
    made = []

    def make(names):
        r = TlsReceiver(tmp_path / str(len(made)), names)
        made.append(r)
        return r

    for n in range(3):
        (tmp_path / str(n)).mkdir()
    yield make
    for r in made:
        r.close()


def test_https_is_sent_to_the_pinned_address_with_the_name_in_sni_and_host(
    regulator,
    staff,
    fresh_org,  # noqa: F811
    eager_celery,  # noqa: F811
    production,
    public_loopback,
    tls_receiver,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    server = tls_receiver([HOST])
    server.trust(monkeypatch)
    resolver = Resolver(["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_for(regulator, f"https://{HOST}:{server.port}/hooks")

    change(staff, fresh_org, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED, delivery.error
    assert delivery.status_code == 204
    assert server.sni == [HOST]
    assert server.requests[0]["headers"]["Host"] == f"{HOST}:{server.port}"


def test_https_to_a_certificate_for_another_name_is_refused(
    regulator,
    staff,
    fresh_org,  # noqa: F811
    eager_celery,  # noqa: F811
    production,
    public_loopback,
    tls_receiver,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    server = tls_receiver(["other.example"])
    server.trust(monkeypatch)
    monkeypatch.setattr(socket, "getaddrinfo", Resolver(["127.0.0.1"]))
    with django_capture_on_commit_callbacks(execute=True):
        subscription_for(regulator, f"https://{HOST}:{server.port}/hooks")

    change(staff, fresh_org, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.error or "certificate" in delivery.error
    assert server.requests == []


def test_an_unreachable_address_falls_back_to_the_next_checked_one(
    regulator,
    staff,
    fresh_org,  # noqa: F811
    eager_celery,  # noqa: F811
    production,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    # Both stand in for public addresses; nothing listens on 127.0.0.3.
    monkeypatch.setattr(
        webhooks, "_is_public_address", lambda address: address in ("127.0.0.1", "127.0.0.3")
    )
    server = Receiver()
    port = server.server.server_address[1]
    try:
        resolver = Resolver(["127.0.0.3", "127.0.0.1"])
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        with django_capture_on_commit_callbacks(execute=True):
            subscription_for(regulator, f"http://{HOST}:{port}/hooks")
        resolver.lookups = 0

        change(staff, fresh_org, django_capture_on_commit_callbacks)

        assert resolver.lookups == 1
        assert len(server.requests) == 1
        assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED
    finally:
        server.close()
