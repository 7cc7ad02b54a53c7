// The files the UI suite (ui_test.mjs) submits and runs: pipelines, chaos experiments, a
// breaker, a central policy and an environment, as YAML text.

// Runs `wait` until the file its param names exists, so the test decides when the run ends.
export const LIVE = (name) => `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: ${name}, labels: {team: ui}}
spec:
  params: [{name: go, type: string}]
  tasks:
    - name: prepare
      run: ["sh", "-c", "echo preparing"]
    - name: wait
      needs: [prepare]
      env: {GO_FILE: "\${{ params.go }}"}
      run: ["sh", "-c", "echo hello-from-wait; while [ ! -e \\"$GO_FILE\\" ]; do sleep 0.05; done; echo done-waiting"]
`;
// a -> b, a -> c, b -> d, c -> d, and a forEach of 3 items after a.
export const DIAMOND = `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: diamond}
spec:
  tasks:
    - {name: a, run: ["builtin:noop"]}
    - {name: b, needs: [a], run: ["builtin:noop"]}
    - {name: c, needs: [a], run: ["builtin:noop"]}
    - {name: d, needs: [b, c], run: ["builtin:noop"]}
    - {name: fan, needs: [a], forEach: [1, 2, 3], run: ["builtin:noop"]}
`;
export const APPROVAL = `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: needs-sign-off}
spec:
  tasks:
    - {name: build, run: ["builtin:noop"]}
    - name: sign-off
      needs: [build]
      approval: {approvers: [carol], quorum: 1, timeout: 1h}
    - {name: ship, needs: [sign-off], run: ["builtin:noop"]}
`;
// make writes an output param and an artifact; broken then fails with exit 3.
export const FAILING = `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: fails-after-model}
spec:
  tasks:
    - name: make
      run: ["sh", "-c", "printf model-bytes > model.bin; echo 0.93 > acc.txt"]
      outputs:
        params: [{name: accuracy, type: number, from: {file: acc.txt}}]
        artifacts: [{name: model, path: model.bin}]
    - {name: broken, needs: [make], run: ["sh", "-c", "exit 3"]}
`;
export const WIDE = `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: ten-thousand}
spec:
  params: [{name: items, type: list}]
  tasks:
    - {name: each, forEach: "\${{ params.items }}", run: ["builtin:noop"]}
`;

// The chaos experiments' target: step is retried on exit 75; a fault makes its first attempt
// exit 75 (held) or makes last fail (deviated).
export const CHAOS_TARGET = `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: chaos-small}
spec:
  tasks:
    - name: step
      run: [sh, -c, 'echo step']
      retry: {limit: 3, backoff: {initial: 10ms, factor: 1}, on: [75]}
    - {name: last, needs: [step], run: [sh, -c, 'echo last']}
`;
export const EXPERIMENT = (name, fault) => `apiVersion: sluice/v1
kind: Experiment
metadata: {name: ${name}}
spec:
  title: ${name === 'holds' ? 'Retries hide a flaky step' : 'A failing last step shows'}
  target: {pipeline: chaos-target.yaml, runs: 1, timeout: 1m}
  steadyStateHypothesis:
    title: every run succeeds
    probes:
      - {name: success-rate, runs: {}, tolerance: "value == 1.0"}
  method:
    - name: the-fault
      fault: {task: ${fault}}
  runtime:
    hypothesis: {strategy: continuously}
`;
export const BREAKERS = `apiVersion: sluice/v1
kind: Breaker
metadata: {name: flaky-api}
spec: {slidingWindowType: COUNT_BASED, slidingWindowSize: 10, minimumNumberOfCalls: 2, failureRateThreshold: 50, waitDurationInOpenState: 30s}
`;
export const GUARDED = `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: guarded}
spec:
  imports: [breakers.yaml]
  tasks:
    - {name: call, breaker: flaky-api, run: ["sh", "-c", "echo called"]}
`;
// A central policy that denies target=prod only (runs without a target param pass).
export const NO_PROD = `apiVersion: sluice/v1
kind: Policy
metadata: {name: no-prod}
spec:
  stage: admission
  rules:
    - name: not-prod
      expression: "!has(object.params.target) || object.params.target != 'prod'"
      message: nothing reaches prod from here
`;

// An environment whose slots and router are `sh -c true` (a command router, command health
// checks), so real deploy tasks run real canaries without nginx (as tests/server/rollouts_api_test.py).
export const STAGING = (() => {
  const slot = (name, port) => `    - name: ${name}
      address: 127.0.0.1:${port}
      start: [sh, -c, 'true']
      stop: [sh, -c, 'true']
      health: {command: [sh, -c, 'true']}
`;
  return `apiVersion: sluice/v1
kind: Environment
metadata: {name: ui-staging}
spec:
  slots:
${slot('blue', 18701)}${slot('green', 18702)}  router:
    command:
      apply: [sh, -c, 'true']
`;
})();
// A canary that waits at 50 % for a person's promote (or abort).
export const DELIVER = `apiVersion: sluice/v1
kind: Pipeline
metadata: {name: deliver}
spec:
  params:
    - {name: model, type: string}
    - {name: version, type: string}
  tasks:
    - name: deploy
      deploy:
        environment: ui-staging
        model: \${{ params.model }}
        version: \${{ params.version }}
        strategy:
          canary:
            steps: [{setWeight: 50}, {pause: {}}]
            scaleDownDelay: 0s
            abortScaleDownDelay: 0s
`;
