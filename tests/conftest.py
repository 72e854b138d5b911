"""Shared pytest setup: markers for tests that need MNIST or take long."""


def pytest_configure(config):
    config.addinivalue_line("markers", "mnist: needs the MNIST data files")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
