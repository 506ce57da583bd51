"""The qibo backend against the real local server: results are qibo's own, and equal to qibo's numpy
backend's for the same circuits (exactly where the outcome is certain, within 5 sigma where it is not)."""

from __future__ import annotations

import ast
import logging
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qibo
from qibo import Circuit, gates
from qibo.backends.numpy import NumpyBackend
from qibo.result import CircuitResult, MeasurementOutcomes, QuantumState, load_result

from qiboconnection import JobFailedError, QiboconnectionError
from qiboconnection.accounts import AccountNotFoundError
from qiboconnection.api import API
from qiboconnection.backend import MetaBackend, QiboconnectionBackend
from qiboconnection.errors import AuthenticationError

SIMULATOR = 1
NUMPY = NumpyBackend()


def numpy_run(circuit: Circuit, nshots: int = 1000, initial_state: Any = None) -> Any:
    """What qibo's own numpy backend gives for a copy of ``circuit``."""
    return NUMPY.execute_circuit(circuit.copy(deep=True), initial_state=initial_state, nshots=nshots)


def bell() -> Circuit:
    circuit = Circuit(2)
    circuit.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
    return circuit


def use(server: Any, user: str, monkeypatch: pytest.MonkeyPatch, config_dir: Path) -> None:
    """Credentials of ``user`` in the environment, as API.login() reads them; no saved accounts."""
    credential = server.users[user]
    monkeypatch.setenv("QUANTUM_SERVICE_URL", server.url)
    monkeypatch.setenv("QIBOCONNECTION_USERNAME", credential.username)
    monkeypatch.setenv("QIBOCONNECTION_API_KEY", credential.api_key)
    monkeypatch.setenv("QIBOCONNECTION_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("QIBOCONNECTION_PROGRESS", "0")


@pytest.fixture
def as_alice(qaas_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    use(qaas_server, "alice", monkeypatch, tmp_path / "config")
    return qaas_server.users["alice"]


@pytest.fixture
def session(as_alice: Any) -> Iterator[API]:
    with API.login() as api:
        yield api


@pytest.fixture
def remote(as_alice: Any) -> Iterator[QiboconnectionBackend]:
    """qibo's global backend set to the service's simulator; numpy again afterwards."""
    qibo.set_backend("qiboconnection", platform=SIMULATOR)
    backend = qibo.get_backend()
    try:
        yield backend
    finally:
        qibo.set_backend("numpy")
        backend.close()


def job_count(api: API) -> int:
    return len(api.list_jobs())


# -- running circuits through qibo --------------------------------------------------------------------


def test_bell_through_set_backend_runs_on_the_service(remote: QiboconnectionBackend, session: API) -> None:
    assert isinstance(remote, QiboconnectionBackend)
    assert repr(remote) == "qiboconnection (Qibo simulator)"
    before = job_count(session)
    called = bell()(nshots=1000)
    executed = bell().execute(nshots=1000)
    assert job_count(session) == before + 2
    for result in (called, executed):
        assert isinstance(result, MeasurementOutcomes)
        assert type(result) is CircuitResult  # a simulator returns the final state too, as numpy does
        frequencies = result.frequencies()
        assert set(frequencies) == {"00", "11"}
        assert sum(frequencies.values()) == 1000
        assert set(result.frequencies(binary=False)) == {0, 3}
        samples = np.asarray(result.samples())
        assert samples.shape == (1000, 2)
        assert np.array_equal(samples[:, 0], samples[:, 1])
        assert int(samples[:, 0].sum()) == frequencies["11"]
        np.testing.assert_allclose(result.probabilities(), [0.5, 0, 0, 0.5], atol=1e-12)


def test_measurement_order_and_registers_are_qibos(remote: QiboconnectionBackend) -> None:
    # Certain outcome, measurements out of qubit order, an unmeasured qubit, named and unnamed registers.
    circuit = Circuit(4)
    circuit.add([gates.X(1), gates.X(3), gates.H(2)])
    circuit.add(gates.M(3, register_name="b"))
    circuit.add(gates.M(1, 0))
    ours, theirs = circuit(nshots=50), numpy_run(circuit, nshots=50)
    assert type(ours) is type(theirs) is CircuitResult
    assert ours.frequencies() == theirs.frequencies() == {"110": 50}
    assert ours.frequencies(binary=False) == theirs.frequencies(binary=False)
    assert ours.frequencies(registers=True) == theirs.frequencies(registers=True)
    assert set(ours.frequencies(registers=True)) == {"b", "register1"}
    np.testing.assert_array_equal(ours.samples(), theirs.samples())
    np.testing.assert_array_equal(ours.samples(binary=False), theirs.samples(binary=False))
    for name, samples in theirs.samples(registers=True).items():
        np.testing.assert_array_equal(ours.samples(registers=True)[name], samples)
    np.testing.assert_allclose(ours.probabilities(), theirs.probabilities(), atol=1e-12)
    np.testing.assert_allclose(ours.probabilities([0, 3]), theirs.probabilities([0, 3]), atol=1e-12)
    np.testing.assert_allclose(ours.state(), theirs.state(), atol=1e-10)


def test_entangled_outcomes_follow_the_measurement_order(remote: QiboconnectionBackend) -> None:
    circuit = Circuit(3)
    circuit.add([gates.H(0), gates.CNOT(0, 1), gates.X(2), gates.M(2), gates.M(1, 0)])
    ours = circuit(nshots=400)
    assert set(ours.frequencies()) == {"100", "111"} == set(numpy_run(circuit).frequencies())
    assert ours.frequencies(registers=True)["register0"] == {"1": 400}


def test_vqa_sweep_of_20_angles_is_within_5_sigma_of_numpy(remote: QiboconnectionBackend) -> None:
    nshots = 2000
    circuit = Circuit(2)
    circuit.add([gates.RY(0, theta=0.0), gates.CNOT(0, 1), gates.RX(1, theta=0.0), gates.RZ(0, theta=0.0)])
    circuit.add(gates.M(0, 1))
    # Observable Z0 Z1 + 0.5 Z1, diagonal: its value on each outcome index (qubit 0 most significant).
    z = np.array([[1 - 2 * ((index >> (1 - qubit)) & 1) for qubit in range(2)] for index in range(4)])
    values = z[:, 0] * z[:, 1] + 0.5 * z[:, 1]
    deviations = []
    for theta in np.linspace(0, 2 * np.pi, 20):
        circuit.set_parameters([theta, theta / 2, theta / 3])
        result = circuit(nshots=nshots)
        frequencies = result.frequencies(binary=False)
        assert sum(frequencies.values()) == nshots
        estimate = sum(values[index] * count for index, count in frequencies.items()) / nshots
        probabilities = numpy_run(circuit, nshots=nshots).probabilities()
        exact = float(values @ probabilities)
        sigma = float(np.sqrt(max(values**2 @ probabilities - exact**2, 0.0) / nshots))
        assert abs(estimate - exact) <= 5 * sigma + 1e-12, (theta, estimate, exact, sigma)
        # The state the simulator returns is qibo's for these angles.
        np.testing.assert_allclose(result.probabilities(), probabilities, atol=1e-10)
        deviations.append((estimate - exact) / sigma if sigma else 0.0)
    # Shots are drawn afresh for each job: the estimates are not all exact.
    assert any(abs(deviation) > 0 for deviation in deviations)


def test_circuit_without_measurement_gives_the_numpy_state(remote: QiboconnectionBackend) -> None:
    # Needs the client to send circuits without measurements to simulators.
    circuit = Circuit(3)
    circuit.add([gates.H(0), gates.RY(1, theta=0.7), gates.CNOT(0, 2), gates.U3(2, 0.3, 1.1, -0.4)])
    circuit.add([gates.RZ(1, theta=1.9), gates.CZ(1, 2), gates.SX(0)])
    ours = circuit()
    assert type(ours) is QuantumState
    np.testing.assert_allclose(ours.state(), numpy_run(circuit).state(), rtol=0, atol=1e-10)


def test_execute_circuits_runs_them_as_one_batch(remote: QiboconnectionBackend) -> None:
    circuits = []
    for flips in ([0], [1], [0, 1]):
        circuit = Circuit(2)
        circuit.add([gates.X(qubit) for qubit in flips] + [gates.M(0, 1)])
        circuits.append(circuit)
    results = remote.execute_circuits(circuits, nshots=100)
    assert [dict(result.frequencies()) for result in results] == [{"10": 100}, {"01": 100}, {"11": 100}]


def test_initial_state_vector_is_refused_before_anything_is_sent(
    remote: QiboconnectionBackend, session: API
) -> None:
    before = job_count(session)
    state = np.zeros(4, dtype=complex)
    state[3] = 1
    with pytest.raises(ValueError, match="initial state vector"):
        bell()(initial_state=state, nshots=10)
    assert job_count(session) == before


def test_initial_state_circuit_runs_first_as_in_qibo(remote: QiboconnectionBackend) -> None:
    prepare = Circuit(2)
    prepare.add(gates.X(1))
    circuit = Circuit(2)
    circuit.add([gates.CNOT(1, 0), gates.M(0, 1)])
    ours = circuit(initial_state=prepare, nshots=30)
    assert (
        ours.frequencies() == numpy_run(circuit, nshots=30, initial_state=prepare).frequencies() == {"11": 30}
    )


def test_density_matrix_circuits_are_refused(remote: QiboconnectionBackend) -> None:
    circuit = Circuit(1, density_matrix=True)
    circuit.add([gates.H(0), gates.M(0)])
    with pytest.raises(ValueError, match="density_matrix=False"):
        circuit(nshots=10)


def test_a_failed_job_raises_job_failed_error(remote: QiboconnectionBackend) -> None:
    circuit = Circuit(21)  # the simulator runs at most 20 qubits
    circuit.add([gates.H(0), gates.M(0)])
    with pytest.raises(JobFailedError, match="21 qubits"):
        circuit(nshots=10)


# -- loading the backend ------------------------------------------------------------------------------


def test_device_by_name_and_clear_errors(as_alice: Any, qaas_server: Any) -> None:
    backend = MetaBackend.load(platform="qibo SIMULATOR")
    try:
        assert backend.device_id == SIMULATOR and backend.platform == "Qibo simulator"
    finally:
        backend.close()
    by_digits = MetaBackend.load(platform=str(SIMULATOR))
    by_digits.close()
    assert by_digits.device_id == SIMULATOR
    with pytest.raises(ValueError, match=r"No device has id or name 'Gandalf'.*1 \(Qibo simulator\)"):
        MetaBackend.load(platform="Gandalf")
    with pytest.raises(ValueError, match="No device has id or name '999'"):
        MetaBackend.load(platform=999)
    with pytest.raises(ValueError, match="platform=DEVICE_ID_OR_NAME"):
        qibo.set_backend("qiboconnection")
    with pytest.raises(ValueError, match="timeout"):
        MetaBackend.load(platform=1, timeout=-1)
    with pytest.raises(AuthenticationError):
        MetaBackend.load(platform=1, username="alice", api_key="not-the-key")
    bob = qaas_server.users["bob"]
    backend = MetaBackend.load(platform=1, username=bob.username, api_key=bob.api_key)
    try:
        with API.login() as alice:
            bob_id = backend.api.user_id
            assert bob_id != alice.user_id  # bob's session, not the environment's alice
        backend.close()
        assert backend.api.user_id == bob_id  # logged in again with the credentials it was given
    finally:
        backend.close()


def test_list_available_backends_lists_the_users_devices(as_alice: Any) -> None:
    listed = qibo.list_available_backends("qiboconnection")["qiboconnection"]
    assert listed == {"Qibo simulator": True, "Galadriel": False, "Radagast": False}


def test_list_available_answers_without_credentials(
    as_alice: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qiboconnection.backend")
    monkeypatch.delenv("QIBOCONNECTION_USERNAME")
    monkeypatch.delenv("QIBOCONNECTION_API_KEY")
    assert MetaBackend().list_available() == {}
    assert qibo.list_available_backends("qiboconnection")["qiboconnection"] == {}
    assert "No credentials" in caplog.text


def test_pickled_backend_has_no_key_and_logs_in_again(
    remote: QiboconnectionBackend, qaas_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blob = pickle.dumps(remote)
    assert qaas_server.users["alice"].api_key.encode() not in blob
    copy = pickle.loads(blob)
    try:
        assert copy.device_id == SIMULATOR and repr(copy) == repr(remote)
        assert copy.execute_circuit(bell(), nshots=20).frequencies().keys() <= {"00", "11"}
    finally:
        copy.close()
    use(qaas_server, "bob", monkeypatch, tmp_path / "bob")
    other = pickle.loads(blob)
    with pytest.raises(QiboconnectionError, match="not to user"):
        other.execute_circuit(bell(), nshots=20)
    monkeypatch.delenv("QIBOCONNECTION_USERNAME")
    monkeypatch.delenv("QIBOCONNECTION_API_KEY")
    with pytest.raises(AccountNotFoundError):
        pickle.loads(blob).execute_circuit(bell(), nshots=20)


def test_qibo_parallel_helper_runs_circuits_on_threads(remote: QiboconnectionBackend) -> None:
    from qibo.parallel import parallel_circuits_execution

    circuits = [bell() for _ in range(4)]
    results = parallel_circuits_execution(circuits, nshots=100, processes=2, backend=remote)
    for result in results:
        assert set(result.frequencies()) <= {"00", "11"} and sum(result.frequencies().values()) == 100


def test_close_then_execute_logs_in_again(remote: QiboconnectionBackend) -> None:
    remote.close()
    assert set(bell()(nshots=20).frequencies()) <= {"00", "11"}


SCRIPT = """
import qibo
from qibo import Circuit, gates

circuit = Circuit(2)
circuit.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
result = circuit(nshots=500)
print(qibo.get_backend())
print(dict(result.frequencies()))
"""


@pytest.mark.parametrize("platform", ["1", "Qibo simulator"])
def test_environment_selects_the_backend_for_an_unchanged_script(
    platform: str, as_alice: Any, session: API, tmp_path: Path
) -> None:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "QIBO_BACKEND": "qiboconnection", "QIBO_PLATFORM": platform}
    before = job_count(session)
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    backend, frequencies = run.stdout.strip().splitlines()[-2:]
    assert backend == "qiboconnection (Qibo simulator)"
    counts = ast.literal_eval(frequencies)
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 500
    assert job_count(session) == before + 1
    assert as_alice.api_key not in run.stdout + run.stderr


def test_cold_import_stays_light_and_meta_backend_is_lazy() -> None:
    code = (
        "import sys, qiboconnection\n"
        "assert 'qibo' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'\n"
        "assert 'MetaBackend' in dir(qiboconnection)\n"
        "from qiboconnection import *\n"
        "assert 'qibo' not in sys.modules, 'star import pulled qibo'\n"
        "assert qiboconnection.MetaBackend.__module__ == 'qiboconnection.backend'\n"
        "assert 'qibo' in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


# -- results fetched later ----------------------------------------------------------------------------


def assert_same_result(loaded: Any, original: Any) -> None:
    assert type(loaded) is type(original)
    if isinstance(original, MeasurementOutcomes):
        assert loaded.frequencies() == original.frequencies()
        np.testing.assert_array_equal(loaded.samples(), original.samples())
        np.testing.assert_allclose(loaded.probabilities(), original.probabilities(), atol=1e-12)
    if isinstance(original, QuantumState):
        np.testing.assert_array_equal(loaded.state(), original.state())


def test_fetched_results_convert_and_survive_dump_and_load(session: API, tmp_path: Path) -> None:
    circuit = Circuit(3)
    circuit.add([gates.H(0), gates.CNOT(0, 2), gates.RY(1, theta=0.4), gates.M(2, 0, register_name="out")])
    job = session.submit(circuit, device_id=SIMULATOR, nshots=300)
    [from_handle] = job.result(timeout=120)
    fetched = session.get_job(job.id)
    [entry] = fetched.result
    converted = entry.to_qibo(fetched.description[0])
    assert type(converted) is CircuitResult
    assert converted.frequencies() == from_handle.frequencies() == entry.frequencies()
    assert set(converted.frequencies()) <= {"00", "11"}
    assert converted.frequencies(registers=True)["out"] == converted.frequencies()
    np.testing.assert_allclose(converted.state(), numpy_run(circuit).state(), atol=1e-10)
    np.testing.assert_allclose(converted.probabilities(), numpy_run(circuit).probabilities(), atol=1e-12)
    # The same from the circuit object, and from the OpenQASM text.
    assert from_handle.to_qibo(circuit).frequencies() == converted.frequencies()
    assert entry.to_qibo(circuit.to_qasm()).frequencies() == converted.frequencies()
    for number, result in enumerate([converted, entry.to_qibo()]):
        path = tmp_path / f"result-{number}.npy"
        result.dump(str(path))
        assert_same_result(load_result(str(path)), result)
        assert_same_result(type(result).load(str(path)), result)


def test_to_qibo_without_the_circuit_reads_the_measured_bits_in_order(session: API) -> None:
    circuit = Circuit(2)
    circuit.add([gates.X(1), gates.M(1, 0)])
    [entry] = session.submit(circuit, device_id=SIMULATOR, nshots=40).result(timeout=120)
    result = entry.to_qibo()
    assert type(result) is CircuitResult
    assert result.frequencies() == {"10": 40}  # bits in measurement order, as qibo gives them
    assert result.frequencies() == numpy_run(circuit, nshots=40).frequencies()
    with pytest.raises(ValueError, match="2 measured bits per shot but the circuit measures 1"):
        entry.to_qibo(_one_measured())
    with pytest.raises(TypeError, match="qibo Circuit or its OpenQASM text"):
        entry.to_qibo(42)


def _one_measured() -> Circuit:
    circuit = Circuit(2)
    circuit.add([gates.X(1), gates.M(1)])
    return circuit


def test_batch_outcomes_convert(session: API) -> None:
    circuits = [bell() for _ in range(3)]
    outcomes = session.run_batch(circuits, device_id=SIMULATOR, nshots=50, timeout=120)
    for outcome, circuit in zip(outcomes, circuits, strict=True):
        assert outcome.ok, outcome.error
        result = outcome.result.to_qibo(circuit)
        assert set(result.frequencies()) <= {"00", "11"} and sum(result.frequencies().values()) == 50


# -- a device that returns only shots -----------------------------------------------------------------


def test_a_qpu_gives_measurement_outcomes(
    make_server: Callable[..., AbstractContextManager[Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with make_server() as server:
        use(server, "admin", monkeypatch, tmp_path / "admin")
        with API.login() as admin:
            admin.set_device_to_online(server.devices["maintenance"])
        use(server, "alice", monkeypatch, tmp_path / "alice")
        qibo.set_backend("qiboconnection", platform="Galadriel")
        try:
            circuit = Circuit(3)
            circuit.add([gates.X(0), gates.H(1), gates.M(0, 1)])
            result = circuit(nshots=200)
            assert type(result) is MeasurementOutcomes  # shots only, no final state
            assert set(result.frequencies()) <= {"10", "11"} and sum(result.frequencies().values()) == 200
            # Probabilities from the shots, unmeasured qubit 2 in |0>, as qibo does for shots.
            probabilities = result.probabilities()
            assert probabilities.shape == (8,)
            assert probabilities[0b100] + probabilities[0b110] == pytest.approx(1.0)
            path = tmp_path / "qpu.npy"
            result.dump(str(path))
            assert_same_result(load_result(str(path)), result)
        finally:
            backend = qibo.get_backend()
            qibo.set_backend("numpy")
            backend.close()


# -- conversion of result shapes the local simulator rarely sends --------------------------------------


def test_counts_without_samples_become_shots_with_those_counts() -> None:
    from qiboconnection.results import QaaSCircuitResult

    entry = QaaSCircuitResult({"counts": {"01": 3, "10": 2}})  # samples are left out of large results
    result = entry.to_qibo()
    assert type(result) is MeasurementOutcomes
    assert result.frequencies() == {"01": 3, "10": 2}
    assert np.asarray(result.samples()).shape == (5, 2)


def test_a_state_listing_only_leading_amplitudes_is_sized_by_the_circuit() -> None:
    from qiboconnection.results import QaaSCircuitResult

    circuit = Circuit(3)
    circuit.add(gates.I(0))  # no measurement: qibo gives the state
    entry = QaaSCircuitResult({"counts": {"000": 10}, "final_state": {"0": "(1+0j)"}})
    state = entry.to_qibo(circuit)
    assert type(state) is QuantumState
    np.testing.assert_array_equal(state.state(), np.eye(8, dtype=complex)[0])
    with pytest.raises(ValueError, match="no final state"):
        QaaSCircuitResult({"counts": {"000": 10}}).to_qibo(circuit)
