"""Run rendered pods on the Docker engine the way the kubelet would.

One pod is a "pause" container that holds the network namespace, the hostname (the pod's name)
and the Service DNS names that select it, plus one Docker container per Kubernetes container
joined to it (`--network container:`). What each field becomes:

- scheduling: a pod starts only when its requests fit the node (`Node`), as kube-scheduler would
  place it on a single node of that size; CPU requests become `--cpu-shares` like the kubelet's
- init containers run one after another to success before the containers start
- `command` replaces the image's entrypoint and `args` its cmd; both, and every `env` value,
  get `$(VAR)` expansion; `env` from `value`, `secretKeyRef`, `configMapKeyRef`, `fieldRef`
  (pod name, namespace, IP, service account), `envFrom` with `prefix`; Service link variables
  (`<NAME>_SERVICE_HOST` …) unless `enableServiceLinks: false`; `workingDir`
- volumes: `emptyDir` is a fresh directory (mode 0777, or tmpfs for `medium: Memory`) and its
  `sizeLimit` evicts the pod; `configMap`, `secret` and `projected` are files with their `items`,
  modes and fsGroup group, always mounted read-only; PVCs are directories that outlive the pod;
  `subPath` and `readOnly`; `fsGroup` owns every writable volume (group, setgid) and is added to
  the process's groups, as are `supplementalGroups`
- admission: the namespace's Pod Security level (`restricted`) refuses a pod before it exists
- security: `runAsUser`/`runAsGroup`, `runAsNonRoot` refused at start when the process would be
  root, `readOnlyRootFilesystem`, capabilities, `allowPrivilegeEscalation: false` as
  no-new-privileges, Docker's default seccomp profile for RuntimeDefault, limits as Docker limits
- probes: startup, then readiness and liveness, httpGet/tcpSocket from the node (this host) to the
  pod IP and exec inside the container, with their timings; a failed liveness probe or an exited
  container restarts it with the kubelet's back-off (Always / OnFailure), counted in `restarts`
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import stat
import string
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from admission import admit
from expansion import expand
from manifests import POD_SPEC, NotReplayedError, Release, Service, check

_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def disk_usage(path: Path) -> int:
    """Bytes of the regular files below path. The pod's processes keep writing and deleting
    there: what vanishes while it is walked counts as gone (os.walk skips an unlistable dir)."""
    used = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                used += info.st_size
    return used


def quantity_bytes(value: str | int) -> int:
    text = str(value)
    for suffix, factor in _UNITS.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(float(text))


def quantity_millicpu(value: str | int | float) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def docker(
    *args: str, timeout: float = 120, check_rc: bool = True, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check_rc and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} …: {done.stderr.strip()[-800:]}")
    return done.stdout.strip()


def log(message: str) -> None:
    print(f"[replay {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Node:
    """The single node pods are scheduled on: its allocatable CPU (millicores) and memory."""

    cpu_millis: int
    memory_bytes: int


def _suffix(length: int) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the characters Kubernetes uses for pod names
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _env_name(service: str) -> str:
    return service.upper().replace("-", "_")


@dataclass
class ContainerState:
    spec: dict[str, Any]
    init: bool
    docker_name: str = ""
    restarts: int = 0
    started: bool = False  # the startup probe passed (or there is none)
    ready: bool = False
    exit_code: int | None = None
    started_at: float = 0.0


@dataclass
class Pod:
    """One replayed pod: its containers, state and history."""

    cluster: Cluster
    name: str
    owner: str  # e.g. "Deployment/occupancy-api" or "Pod/occupancy-train-x"
    labels: dict[str, str]
    spec: dict[str, Any]
    restart_policy: str
    claims: dict[str, Path] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    phase: str = "Pending"
    reason: str = ""
    ip: str = ""
    containers: list[ContainerState] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pause(self) -> str:
        return f"{self.cluster.prefix}-{self.name}"

    @property
    def ready(self) -> bool:
        main = [c for c in self.containers if not c.init]
        return self.phase == "Running" and bool(main) and all(c.ready for c in main)

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self.containers)

    def event(self, message: str) -> None:
        self.events.append(message)
        log(f"{self.owner} pod {self.name}: {message}")


class Cluster:
    """A namespace of replayed workloads on one Docker network."""

    def __init__(
        self,
        release: Release,
        *,
        workdir: Path,
        node: Node,
        image_for: Callable[[str], str] = lambda image: image,
        network: str | None = None,
    ) -> None:
        """`network`: join an existing Docker network (the compose stack's) instead of a new one."""
        self.release = release
        self.workdir = workdir
        self.node = node
        self.image_for = image_for
        self.prefix = f"replay{_suffix(5)}"
        self.network = network or f"{self.prefix}-net"
        self._own_network = network is None
        self.pods: list[Pod] = []
        self._threads: list[threading.Thread] = []
        self._scheduled: dict[str, tuple[int, int]] = {}
        self._schedule_lock = threading.Condition()
        self._volumes: list[str] = []
        self._image_users: dict[str, str] = {}

    # -- the namespace ------------------------------------------------------------------------

    def create(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._own_network:
            docker("network", "create", "--driver", "bridge", self.network)

    def delete(self) -> None:
        for pod in self.pods:
            pod.stop.set()
        names = docker("ps", "-aq", "--filter", f"name=^{self.prefix}-", check_rc=False).split()
        if names:
            docker("rm", "-f", "-v", *names, timeout=300, check_rc=False)
        for volume in self._volumes:
            docker("volume", "rm", "-f", volume, check_rc=False)
        if self._own_network:
            docker("network", "rm", self.network, check_rc=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- creating pods ------------------------------------------------------------------------

    def new_pod(
        self,
        name: str,
        owner: str,
        labels: dict[str, str],
        spec: dict[str, Any],
        *,
        default_restart: str,
        claims: dict[str, Path] | None = None,
        subdomain: str | None = None,
    ) -> Pod:
        """Check the pod spec, create its network namespace (pause container); do not start it."""
        check(spec, POD_SPEC, owner, "spec.template.spec" if "/" in owner else "spec")
        admit(self.release.pod_security, name, spec)  # as the API server would, before creation
        pod = Pod(self, name, owner, labels, spec, spec.get("restartPolicy") or default_restart)
        pod.claims = claims or {}
        pod.aliases = self._aliases(pod, subdomain)
        self._check_token(pod)
        image = self.image_for(spec["containers"][0]["image"])
        aliases = [arg for alias in pod.aliases for arg in ("--network-alias", alias)]
        docker(
            "run", "-d", "--name", pod.pause, "--hostname", name, "--network", self.network,
            *aliases, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", "65535:65535", "--memory", "64m", "--no-healthcheck", "--entrypoint", "sleep",
            image, "infinity",
        )  # fmt: skip
        pod.ip = docker(
            "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{self.network}").IPAddress}}}}',
            pod.pause,
        )  # fmt: skip
        self.pods.append(pod)
        return pod

    def _aliases(self, pod: Pod, subdomain: str | None) -> list[str]:
        ns = self.release.namespace
        names: list[str] = []
        for service in self.release.services:
            if service.selector and all(
                pod.labels.get(k) == v for k, v in service.selector.items()
            ):
                self._check_ports(service, pod)
                base = service.name
                names += [
                    base,
                    f"{base}.{ns}",
                    f"{base}.{ns}.svc",
                    f"{base}.{ns}.svc.cluster.local",
                ]
                if service.headless and subdomain == service.name:
                    names += [f"{pod.name}.{base}", f"{pod.name}.{base}.{ns}.svc.cluster.local"]
        return names

    def _check_ports(self, service: Service, pod: Pod) -> None:
        named = {
            p.get("name"): p["containerPort"]
            for c in pod.spec["containers"]
            for p in c.get("ports") or []
        }
        for i, port in enumerate(service.ports):
            target = port.get("targetPort", port["port"])
            number = named.get(target) if isinstance(target, str) else target
            if number is None:
                raise NotReplayedError(
                    f"Service/{service.name}", f"spec.ports[{i}].targetPort",
                    f"{target!r} names no port of {pod.owner}",
                )  # fmt: skip
            if number != port["port"]:
                raise NotReplayedError(
                    f"Service/{service.name}", f"spec.ports[{i}]",
                    f"port {port['port']} → targetPort {number}: Service names reach pods "
                    "directly here, without kube-proxy's port translation",
                )  # fmt: skip

    def _check_token(self, pod: Pod) -> None:
        """A mounted service-account token needs an API server: refused, never faked."""
        account = pod.spec.get("serviceAccountName") or "default"
        automount = pod.spec.get("automountServiceAccountToken")
        if automount is None:
            sa = self.release.service_accounts.get(account) or {}
            automount = sa.get("automountServiceAccountToken", True)
        if automount:
            raise NotReplayedError(
                pod.owner, "spec.automountServiceAccountToken",
                f"a token of ServiceAccount {account} would be mounted: no API server here",
            )  # fmt: skip

    def start(self, pod: Pod) -> None:
        thread = threading.Thread(target=self._run_pod, args=(pod,), name=pod.name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- scheduling ---------------------------------------------------------------------------

    @staticmethod
    def requests(spec: dict[str, Any]) -> tuple[int, int]:
        """The pod's effective requests: max(largest init container, sum of containers)."""

        def of(container: dict[str, Any]) -> tuple[int, int]:
            asked = (container.get("resources") or {}).get("requests") or {}
            return quantity_millicpu(asked.get("cpu", 0)), quantity_bytes(asked.get("memory", 0))

        main = [of(c) for c in spec["containers"]]
        init = [of(c) for c in spec.get("initContainers") or []]
        cpu = max([sum(c for c, _ in main), *(c for c, _ in init)])
        memory = max([sum(m for _, m in main), *(m for _, m in init)])
        return cpu, memory

    def _schedule(self, pod: Pod, timeout: float) -> bool:
        cpu, memory = self.requests(pod.spec)
        deadline = time.monotonic() + timeout
        with self._schedule_lock:
            while True:
                used_cpu = sum(c for c, _ in self._scheduled.values())
                used_mem = sum(m for _, m in self._scheduled.values())
                if (
                    used_cpu + cpu <= self.node.cpu_millis
                    and used_mem + memory <= self.node.memory_bytes
                ):
                    self._scheduled[pod.name] = (cpu, memory)
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or pod.stop.is_set():
                    pod.reason = (
                        f"Unschedulable: requests {cpu}m CPU / {memory // 2**20} MiB, node has "
                        f"{self.node.cpu_millis - used_cpu}m / {(self.node.memory_bytes - used_mem) // 2**20} MiB free"
                    )
                    return False
                self._schedule_lock.wait(min(left, 5))

    def _unschedule(self, pod: Pod) -> None:
        with self._schedule_lock:
            self._scheduled.pop(pod.name, None)
            self._schedule_lock.notify_all()

    # -- a pod's life -------------------------------------------------------------------------

    def _run_pod(self, pod: Pod) -> None:
        try:
            if not self._schedule(pod, timeout=300):
                pod.phase = "Failed"
                pod.event(pod.reason)
                return
            self._lifecycle(pod)
        except Exception as error:
            pod.phase, pod.reason = "Failed", str(error)
            pod.event(f"failed: {error}")
        finally:
            self._unschedule(pod)

    def _lifecycle(self, pod: Pod) -> None:
        mounts = self._prepare_volumes(pod)
        deadline = pod.spec.get("activeDeadlineSeconds")
        ends = time.monotonic() + deadline if deadline else None
        pod.phase = "Running"
        for spec in pod.spec.get("initContainers") or []:
            state = ContainerState(spec, init=True)
            pod.containers.append(state)
            while True:
                code = self._run_to_exit(pod, state, mounts, ends)
                if code == 0:
                    break
                if pod.stop.is_set():
                    return
                if pod.restart_policy == "Never" or code is None:
                    pod.phase, pod.reason = "Failed", f"init container {spec['name']} exited {code}"
                    pod.event(pod.reason)
                    return
                self._back_off(pod, state)
        states = [ContainerState(spec, init=False) for spec in pod.spec["containers"]]
        pod.containers += states
        for state in states:
            self._start_container(pod, state, mounts)
        probes = [
            threading.Thread(target=self._probe_loop, args=(pod, s), daemon=True) for s in states
        ]
        for thread in probes:
            thread.start()
        self._watch(pod, states, mounts, ends)

    def _watch(
        self, pod: Pod, states: list[ContainerState], mounts: dict[str, Any], ends: float | None
    ) -> None:
        """Restart exited containers per restartPolicy; end the pod when it is done."""
        while not pod.stop.wait(1.0):
            if ends is not None and time.monotonic() > ends:
                pod.phase, pod.reason = "Failed", "DeadlineExceeded"
                pod.event("activeDeadlineSeconds exceeded")
                self._kill(pod, states)
                return
            evicted = self._over_size_limit(pod)
            if evicted:
                pod.phase, pod.reason = "Failed", f"Evicted: {evicted}"
                pod.event(pod.reason)
                self._kill(pod, states)
                return
            for state in states:
                with pod.lock:
                    if state.exit_code is not None or not state.docker_name:
                        continue
                    status = docker(
                        "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", state.docker_name,
                        check_rc=False,
                    ).split()  # fmt: skip
                    if not status or status[0] == "true":
                        continue
                    state.exit_code, state.ready = int(status[1]), False
                pod.event(f"container {state.spec['name']} exited {state.exit_code}")
                if pod.restart_policy == "Always" or (
                    pod.restart_policy == "OnFailure" and state.exit_code != 0
                ):
                    self._back_off(pod, state)
                    if pod.stop.is_set():  # deleted while backing off
                        return
                    self._start_container(pod, state, mounts)
            if all(s.exit_code is not None for s in states):
                failed = [s for s in states if s.exit_code != 0]
                pod.phase = "Failed" if failed else "Succeeded"
                pod.reason = ", ".join(f"{s.spec['name']} exited {s.exit_code}" for s in failed)
                return

    def _back_off(self, pod: Pod, state: ContainerState) -> None:
        state.restarts += 1
        delay = min(10 * 2 ** (state.restarts - 1), 300)
        pod.event(f"restarting {state.spec['name']} (restart {state.restarts}) in {delay} s")
        pod.stop.wait(delay)

    def _kill(self, pod: Pod, states: list[ContainerState]) -> None:
        for state in states:
            self._stop_container(pod, state)

    @staticmethod
    def _stop_container(pod: Pod, state: ContainerState) -> None:
        """SIGTERM, then SIGKILL after the pod's grace period, as the kubelet stops a container."""
        if state.docker_name:
            grace = str(pod.spec.get("terminationGracePeriodSeconds", 30))
            docker("stop", "-t", grace, state.docker_name, timeout=400, check_rc=False)

    def stop_pod(self, pod: Pod) -> None:
        pod.stop.set()
        self._kill(pod, [c for c in pod.containers if not c.init])

    # -- containers ---------------------------------------------------------------------------

    def _run_to_exit(
        self, pod: Pod, state: ContainerState, mounts: dict[str, Any], ends: float | None
    ) -> int | None:
        self._start_container(pod, state, mounts)
        timeout = (ends - time.monotonic()) if ends else 3600
        done = subprocess.run(
            ["docker", "wait", state.docker_name], capture_output=True, text=True,
            timeout=max(timeout, 1), check=False,
        )  # fmt: skip
        state.exit_code = int(done.stdout.strip()) if done.stdout.strip() else None
        pod.event(f"init container {state.spec['name']} exited {state.exit_code}")
        return state.exit_code

    def _start_container(self, pod: Pod, state: ContainerState, mounts: dict[str, Any]) -> None:
        spec = state.spec
        image = self.image_for(spec["image"])
        environment = self._environment(pod, spec)
        args = self._run_args(pod, spec, image, mounts, environment)
        with pod.lock:
            state.docker_name = f"{pod.pause}-{spec['name']}-{state.restarts}"
            state.exit_code, state.started, state.ready = None, False, False
            state.started_at = time.monotonic()
            docker(
                "run", "-d", "--name", state.docker_name, *args,
                env={**os.environ, **environment},
            )  # fmt: skip
        pod.event(f"container {spec['name']} started ({image})")

    def _run_args(
        self,
        pod: Pod,
        spec: dict[str, Any],
        image: str,
        mounts: dict[str, Any],
        environment: dict[str, str],
    ) -> list[str]:
        where = f"{pod.owner} container {spec['name']}"
        pod_security = pod.spec.get("securityContext") or {}
        security = {**pod_security, **(spec.get("securityContext") or {})}
        # Kubernetes ignores an image's HEALTHCHECK: only the pod's probes count.
        args = ["--network", f"container:{pod.pause}", "--no-healthcheck"]
        user = self._user(where, image, security)
        args += ["--user", user]
        groups = [pod_security.get("fsGroup"), *(pod_security.get("supplementalGroups") or [])]
        for group in groups:
            if group is not None:
                args += ["--group-add", str(group)]
        if security.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        capabilities = security.get("capabilities") or {}
        for cap in capabilities.get("drop") or []:
            args += ["--cap-drop", cap]
        for cap in capabilities.get("add") or []:
            args += ["--cap-add", cap]
        if security.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        if (security.get("seccompProfile") or {}).get("type") == "Unconfined":
            args += ["--security-opt", "seccomp=unconfined"]
        resources = spec.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        if "memory" in limits:
            args += ["--memory", str(quantity_bytes(limits["memory"]))]
        if "cpu" in limits:
            args += ["--cpus", f"{quantity_millicpu(limits['cpu']) / 1000:g}"]
        if "cpu" in requests:  # the kubelet's cpu.shares for a request
            args += ["--cpu-shares", str(max(2, quantity_millicpu(requests["cpu"]) * 1024 // 1000))]
        if spec.get("workingDir"):
            args += ["--workdir", spec["workingDir"]]
        for mount in spec.get("volumeMounts") or []:
            args += ["--mount", self._mount(where, mount, mounts)]
        for name in environment:
            args += ["--env", name]  # the value comes from the docker CLI's environment
        command = [expand(a, environment) for a in spec.get("command") or []]
        rest = [expand(a, environment) for a in spec.get("args") or []]
        if command:
            return [*args, "--entrypoint", command[0], image, *command[1:], *rest]
        return [*args, image, *rest]

    def _user(self, where: str, image: str, security: dict[str, Any]) -> str:
        uid = security.get("runAsUser")
        image_user = ""
        if uid is None:  # the image's USER decides, as in Kubernetes
            if image not in self._image_users:
                self._image_users[image] = docker(
                    "image", "inspect", "-f", "{{.Config.User}}", image
                )
            image_user = self._image_users[image] or "0"
        user = str(uid) if uid is not None else image_user.split(":")[0]
        if security.get("runAsNonRoot"):  # the kubelet's own refusal (CreateContainerConfigError)
            if not user.isdigit():
                raise RuntimeError(
                    f"{where}: container has runAsNonRoot and image has non-numeric user "
                    f"({user}), cannot verify user is non-root"
                )
            if int(user) == 0:
                raise RuntimeError(
                    f"{where}: container has runAsNonRoot and image will run as root"
                )
        gid = security.get("runAsGroup")
        if gid is not None:
            return f"{user}:{gid}"
        return image_user if uid is None else user

    def _mount(self, where: str, mount: dict[str, Any], mounts: dict[str, Any]) -> str:
        if mount["name"] not in mounts:
            raise NotReplayedError(
                where, f"volumeMounts[{mount['name']}]", "names no volume of the pod"
            )
        kind, source, always_ro = mounts[mount["name"]]
        read_only = always_ro or bool(mount.get("readOnly"))
        sub = mount.get("subPath")
        if kind == "volume":  # a tmpfs emptyDir
            option = f",volume-subpath={sub}" if sub else ""
            text = f"type=volume,src={source},dst={mount['mountPath']}{option}"
        else:
            path = Path(source) / sub if sub else Path(source)
            if sub and not path.exists():  # the kubelet creates a missing subPath as a directory
                path.mkdir(parents=True)
            text = f"type=bind,src={path},dst={mount['mountPath']}"
        return text + (",readonly" if read_only else "")

    def _environment(self, pod: Pod, spec: dict[str, Any]) -> dict[str, str]:
        """The kubelet's order: envFrom, then env (later wins), then Service links where unset."""
        where = f"{pod.owner} container {spec['name']}"
        service_env = self._service_links() if pod.spec.get("enableServiceLinks", True) else {}
        env: dict[str, str] = {}
        for i, source in enumerate(spec.get("envFrom") or []):
            ref_kind = "configMapRef" if "configMapRef" in source else "secretRef"
            ref = source[ref_kind]
            store = self.release.configmaps if ref_kind == "configMapRef" else self.release.secrets
            if ref["name"] not in store:
                if ref.get("optional"):
                    continue
                raise NotReplayedError(
                    where, f"envFrom[{i}]", f"{ref_kind} {ref['name']} is not rendered"
                )
            prefix = source.get("prefix", "")
            for key, value in store[ref["name"]].items():
                name = prefix + key
                if (
                    name
                    and (name[0].isalpha() or name[0] == "_")
                    and all(c in string.ascii_letters + string.digits + "_-." for c in name)
                ):
                    env[name] = value
        for variable in spec.get("env") or []:
            name = variable["name"]
            if "value" in variable or "valueFrom" not in variable:
                env[name] = expand(str(variable.get("value", "")), {**service_env, **env})
                continue
            source = variable["valueFrom"]
            if "fieldRef" in source:
                path = source["fieldRef"]["fieldPath"]
                env[name] = {
                    "metadata.name": pod.name,
                    "metadata.namespace": self.release.namespace,
                    "status.podIP": pod.ip,
                    "spec.serviceAccountName": pod.spec.get("serviceAccountName") or "default",
                }[path]
                continue
            kind = "secretKeyRef" if "secretKeyRef" in source else "configMapKeyRef"
            ref = source[kind]
            store = self.release.secrets if kind == "secretKeyRef" else self.release.configmaps
            values = store.get(ref["name"])
            if values is None or ref["key"] not in values:
                if ref.get("optional"):
                    continue
                raise NotReplayedError(
                    where, f"env[{name}]", f"{kind} {ref['name']}/{ref['key']} is not rendered"
                )
            env[name] = values[ref["key"]]
        for name, value in service_env.items():
            env.setdefault(name, value)
        return env

    def _service_links(self) -> dict[str, str]:
        """`<SERVICE>_SERVICE_HOST` and friends; the address is the selected pod's IP (one
        replica, no kube-proxy), or TEST-NET 192.0.2.1 (unreachable, like an empty Service)."""
        env: dict[str, str] = {}
        for service in self.release.services:
            if service.headless:
                continue
            pods = [
                p for p in self.pods
                if service.selector and all(p.labels.get(k) == v for k, v in service.selector.items())
            ]  # fmt: skip
            ip = pods[0].ip if pods else "192.0.2.1"
            name = _env_name(service.name)
            first = service.ports[0]["port"]
            env[f"{name}_SERVICE_HOST"] = ip
            env[f"{name}_SERVICE_PORT"] = str(first)
            env[f"{name}_PORT"] = f"tcp://{ip}:{first}"
            for port in service.ports:
                number, key = port["port"], f"{name}_PORT_{port['port']}_TCP"
                if port.get("name"):
                    env[f"{name}_SERVICE_PORT_{_env_name(port['name'])}"] = str(number)
                env[key] = f"tcp://{ip}:{number}"
                env[f"{key}_PROTO"] = "tcp"
                env[f"{key}_PORT"] = str(number)
                env[f"{key}_ADDR"] = ip
        return env

    # -- volumes ------------------------------------------------------------------------------

    def _prepare_volumes(self, pod: Pod) -> dict[str, Any]:
        """name → (kind, source, always read-only), made as the kubelet makes them."""
        fs_group = (pod.spec.get("securityContext") or {}).get("fsGroup")
        root = self.workdir / "pods" / pod.name
        mounts: dict[str, Any] = {}
        for volume in pod.spec.get("volumes") or []:
            name = volume["name"]
            if "emptyDir" in volume:
                empty = volume["emptyDir"] or {}
                if empty.get("medium") == "Memory":
                    docker_volume = f"{pod.pause}-{name}"
                    options = ["mode=2777" if fs_group is not None else "mode=0777"]
                    if fs_group is not None:
                        options.append(f"gid={fs_group}")
                    if empty.get("sizeLimit"):
                        options.append(f"size={quantity_bytes(empty['sizeLimit'])}")
                    docker(
                        "volume", "create", "--driver", "local", "--opt", "type=tmpfs",
                        "--opt", "device=tmpfs", "--opt", f"o={','.join(options)}", docker_volume,
                    )  # fmt: skip
                    self._volumes.append(docker_volume)
                    mounts[name] = ("volume", docker_volume, False)
                else:
                    path = root / "empty-dir" / name
                    path.mkdir(parents=True)
                    _own(path, fs_group)
                    mounts[name] = ("bind", str(path), False)
            elif "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                path = pod.claims.get(claim) or self.workdir / "claims" / claim
                if not path.exists():
                    path.mkdir(parents=True)
                    _own(path, fs_group)
                read_only = bool(volume["persistentVolumeClaim"].get("readOnly"))
                mounts[name] = ("bind", str(path), read_only)
            else:
                path = root / "files" / name
                self._write_files(pod, volume, path, fs_group)
                mounts[name] = ("bind", str(path), True)  # always read-only in Kubernetes
        for path in pod.claims.values():
            if not path.exists():
                path.mkdir(parents=True)
                _own(path, fs_group)
        return mounts

    def _write_files(
        self, pod: Pod, volume: dict[str, Any], path: Path, fs_group: int | None
    ) -> None:
        where = f"{pod.owner} volume {volume['name']}"
        if "projected" in volume:
            default = volume["projected"].get("defaultMode", 0o644)
            sources = [
                (kind, {**src[kind], "defaultMode": default})
                for src in volume["projected"]["sources"]
                for kind in ("secret", "configMap")
                if kind in src
            ]
        elif "secret" in volume:
            src = volume["secret"]
            sources = [("secret", {**src, "name": src["secretName"]})]
        else:
            sources = [("configMap", volume["configMap"])]
        path.mkdir(parents=True)
        os.chown(path, 0, fs_group if fs_group is not None else 0)
        path.chmod(0o755)
        for kind, source in sources:
            store = self.release.secrets if kind == "secret" else self.release.configmaps
            values = store.get(source["name"])
            if values is None:
                if source.get("optional"):
                    continue
                raise NotReplayedError(where, kind, f"{source['name']} is not rendered")
            mode = source.get("defaultMode", 0o644)
            items = source.get("items") or [{"key": k, "path": k} for k in values]
            for item in items:
                if item["key"] not in values:
                    raise NotReplayedError(
                        where, f"{kind}.items", f"key {item['key']} is not rendered"
                    )
                target = path / item["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(values[item["key"]])
                os.chown(target, 0, fs_group if fs_group is not None else 0)
                target.chmod(item.get("mode", mode))

    def _over_size_limit(self, pod: Pod) -> str | None:
        """The kubelet evicts a pod whose disk emptyDir outgrows its sizeLimit."""
        for volume in pod.spec.get("volumes") or []:
            limit = (volume.get("emptyDir") or {}).get("sizeLimit")
            if not limit or (volume["emptyDir"] or {}).get("medium") == "Memory":
                continue
            path = self.workdir / "pods" / pod.name / "empty-dir" / volume["name"]
            used = disk_usage(path)
            if used > quantity_bytes(limit):
                return f"emptyDir {volume['name']} uses {used} bytes, over its sizeLimit {limit}"
        return None

    # -- probes -------------------------------------------------------------------------------

    def _probe_loop(self, pod: Pod, state: ContainerState) -> None:
        spec = state.spec
        startup, readiness, liveness = (
            spec.get("startupProbe"), spec.get("readinessProbe"), spec.get("livenessProbe")
        )  # fmt: skip
        if startup is None:
            state.started = True
        if readiness is None and state.started:
            state.ready = True
        due: dict[str, float] = {}
        counts: dict[str, list[int]] = {"startup": [0, 0], "readiness": [0, 0], "liveness": [0, 0]}
        generation = state.docker_name
        while not pod.stop.wait(0.5):
            if state.docker_name != generation:  # restarted: probes start over
                generation, due = state.docker_name, {}
                counts = {k: [0, 0] for k in counts}
                state.started = startup is None
                state.ready = readiness is None and state.started
            if state.exit_code is not None:
                continue
            now = time.monotonic()
            for kind, probe in (
                ("startup", startup),
                ("readiness", readiness),
                ("liveness", liveness),
            ):
                if probe is None or (kind == "startup") == state.started:
                    continue
                if kind not in due:
                    due[kind] = state.started_at + probe.get("initialDelaySeconds", 0)
                if now < due[kind]:
                    continue
                due[kind] = now + probe.get("periodSeconds", 10)
                ok, detail = self._probe(pod, state, probe)
                success, failure = counts[kind]
                success, failure = (success + 1, 0) if ok else (0, failure + 1)
                counts[kind] = [success, failure]
                threshold = probe.get("failureThreshold", 3)
                if kind == "startup":
                    if ok:
                        state.started = True
                        state.ready = readiness is None
                    elif failure >= threshold:
                        self._probe_restart(pod, state, f"startup probe failed: {detail}")
                elif kind == "readiness":
                    if ok and success >= probe.get("successThreshold", 1) and not state.ready:
                        state.ready = True
                        pod.event(f"container {spec['name']} ready")
                    elif not ok and failure >= threshold and state.ready:
                        state.ready = False
                        pod.event(f"container {spec['name']} not ready: {detail}")
                elif not ok and failure >= threshold:
                    self._probe_restart(pod, state, f"liveness probe failed: {detail}")

    def _probe_restart(self, pod: Pod, state: ContainerState, why: str) -> None:
        pod.event(f"container {state.spec['name']}: {why}; killing it")
        self._stop_container(pod, state)

    def _probe(self, pod: Pod, state: ContainerState, probe: dict[str, Any]) -> tuple[bool, str]:
        timeout = probe.get("timeoutSeconds", 1)
        ports = {p.get("name"): p["containerPort"] for p in state.spec.get("ports") or []}

        def port_of(value: Any) -> int:
            return (
                int(ports[value]) if isinstance(value, str) and not value.isdigit() else int(value)
            )

        try:
            if "httpGet" in probe:
                get = probe["httpGet"]
                url = f"http://{pod.ip}:{port_of(get['port'])}{get.get('path', '/')}"
                headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
                headers.setdefault("User-Agent", "kube-probe/1.33")
                request = urllib.request.Request(url, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=timeout) as response:
                        status = response.status
                except urllib.error.HTTPError as error:
                    status = error.code
                return 200 <= status < 400, f"HTTP {status} from {url}"
            if "tcpSocket" in probe:
                with socket.create_connection(
                    (pod.ip, port_of(probe["tcpSocket"]["port"])), timeout
                ):
                    return True, ""
            done = subprocess.run(
                ["docker", "exec", state.docker_name, *probe["exec"]["command"]],
                capture_output=True, text=True, timeout=timeout, check=False,
            )  # fmt: skip
            return done.returncode == 0, (done.stdout + done.stderr).strip()[-300:]
        except (OSError, subprocess.TimeoutExpired) as error:
            return False, f"{type(error).__name__}: {error}"

    # -- reading ------------------------------------------------------------------------------

    def logs(self, pod: Pod, tail: int = 60) -> str:
        out = []
        for state in pod.containers:
            if state.docker_name:
                done = subprocess.run(
                    ["docker", "logs", "--tail", str(tail), state.docker_name],
                    capture_output=True, text=True, timeout=60, check=False,
                )  # fmt: skip
                out.append(f"--- {pod.name}/{state.spec['name']} ---\n{done.stdout}{done.stderr}")
        return "\n".join(out)

    def stdout(self, pod: Pod) -> str:
        """What the pod's last main container wrote to stdout (a step's summary is its last line)."""
        (state,) = [c for c in pod.containers if not c.init][-1:]
        done = subprocess.run(
            ["docker", "logs", state.docker_name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.stdout

    def status(self) -> list[dict[str, Any]]:
        return [
            {"pod": p.name, "owner": p.owner, "phase": p.phase, "ready": p.ready,
             "restarts": p.restarts, "reason": p.reason}
            for p in self.pods
        ]  # fmt: skip


def _own(path: Path, fs_group: int | None) -> None:
    """An emptyDir/PVC directory as the kubelet leaves it: 0777, and with fsGroup its group
    and the setgid bit, so files made inside inherit the group."""
    if fs_group is None:
        path.chmod(0o777)
        return
    os.chown(path, 0, fs_group)
    path.chmod(0o2777)
