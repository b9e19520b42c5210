import pytest

from postforge.services.identity.passwords import (
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)

pytestmark = pytest.mark.real_argon2


def test_hash_is_argon2id_and_verifies_the_same_password():
    password_hash = hash_password("correct horse battery staple")

    assert password_hash.startswith("$argon2id$")
    assert verify_password(password_hash, "correct horse battery staple")


def test_two_hashes_of_one_password_differ_but_both_verify():
    first, second = hash_password("s3cret-pass"), hash_password("s3cret-pass")

    assert first != second
    assert verify_password(first, "s3cret-pass") and verify_password(second, "s3cret-pass")


def test_wrong_password_is_false():
    assert not verify_password(hash_password("right password"), "wrong password")


@pytest.mark.parametrize("bad_hash", ["", None, "not-a-hash", "$argon2id$v=19$garbage", "$2b$12$abcdefghijk"])
def test_missing_or_malformed_hash_is_false_not_an_error(bad_hash):
    assert verify_password(bad_hash, "anything") is False


def test_empty_password_cannot_be_hashed():
    with pytest.raises(ValueError, match="non-empty"):
        hash_password("")


def test_fresh_hash_needs_no_rehash_but_weaker_or_broken_ones_do():
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")

    assert needs_rehash(hash_password("pw")) is False
    assert needs_rehash(weak) is True
    assert needs_rehash("not-a-hash") is True


def test_generated_passwords_are_readable_and_unique():
    passwords = {generate_password() for _ in range(50)}

    assert len(passwords) == 50
    for password in passwords:
        groups = password.split("-")
        assert len(groups) == 4 and all(len(group) == 5 for group in groups)
        assert not set(password) & set("01lio")
    one = passwords.pop()
    assert verify_password(hash_password(one), one)
