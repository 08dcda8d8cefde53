import * as assert from "node:assert/strict";
import {
  deploymentSubjectPattern,
  deployTrustPolicy,
  PULUMI_OIDC_ISSUER,
  PULUMI_OIDC_URL,
} from "../../deploy/trustPolicy";
import { MOCK_ACCOUNT_ID } from "../../offline/engine";
import { assumeRole, deploymentSubject, PULUMI_PROVIDER_ARN } from "./simulate";

const prodTrust = deployTrustPolicy({
  oidcProviderArn: PULUMI_PROVIDER_ARN,
  organization: "acme",
  project: "transient-jobs",
  stack: "prod",
});

describe("deploy role trust policy", () => {
  it("trusts Pulumi Cloud's issuer for one organization's deployments of one stack", () => {
    assert.equal(PULUMI_OIDC_URL, `https://${PULUMI_OIDC_ISSUER}`);
    assert.deepEqual(prodTrust, {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "PulumiDeploymentsOfOneStack",
          Effect: "Allow",
          Principal: { Federated: PULUMI_PROVIDER_ARN },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: { "api.pulumi.com/oidc:aud": "acme" },
            StringLike: {
              "api.pulumi.com/oidc:sub":
                "pulumi:deploy:org:acme:project:transient-jobs:stack:prod:*",
            },
          },
        },
      ],
    });
  });

  it("refuses names that would widen or shift the subject pattern", () => {
    for (const [stack, organization] of [
      ["prod*", "acme"],
      ["prod:operation", "acme"],
      ["pr?d", "acme"],
      ["prod", "acme:project:transient-jobs:stack:prod"],
      ["", "acme"],
    ]) {
      assert.throws(
        () => deploymentSubjectPattern({ organization, project: "transient-jobs", stack }),
        /cannot appear in an OIDC subject condition/,
        `${organization}/${stack}`,
      );
    }
  });

  describe("a simulated AssumeRoleWithWebIdentity", () => {
    const allowed: Array<[string, string]> = [
      ["update", deploymentSubject("acme", "transient-jobs", "prod", "update")],
      ["preview", deploymentSubject("acme", "transient-jobs", "prod", "preview")],
      ["refresh", deploymentSubject("acme", "transient-jobs", "prod", "refresh")],
      ["destroy", deploymentSubject("acme", "transient-jobs", "prod", "destroy")],
    ];
    for (const [operation, sub] of allowed) {
      it(`allows the prod stack's own ${operation} deployment`, () =>
        assert.equal(assumeRole(prodTrust, { aud: "acme", sub }), "Allowed"));
    }

    const denied: Array<[string, { aud: string; sub: string }]> = [
      [
        "another stack of the project",
        { aud: "acme", sub: deploymentSubject("acme", "transient-jobs", "dev") },
      ],
      [
        "a stack whose name starts like the stack",
        { aud: "acme", sub: deploymentSubject("acme", "transient-jobs", "prod-2") },
      ],
      [
        "the same stack name in another project",
        { aud: "acme", sub: deploymentSubject("acme", "transient-jobs-deploy", "prod") },
      ],
      [
        "another organization (its own audience)",
        { aud: "evil", sub: deploymentSubject("evil", "transient-jobs", "prod") },
      ],
      [
        "another organization claiming our audience",
        { aud: "acme", sub: deploymentSubject("evil", "transient-jobs", "prod") },
      ],
      [
        "our subject with another organization's audience",
        { aud: "evil", sub: deploymentSubject("acme", "transient-jobs", "prod") },
      ],
      [
        "an organization whose name starts like ours",
        { aud: "acme", sub: deploymentSubject("acme-labs", "transient-jobs", "prod") },
      ],
      [
        "the audience in other casing",
        { aud: "Acme", sub: deploymentSubject("acme", "transient-jobs", "prod") },
      ],
      [
        "a Pulumi ESC environment of the organization",
        { aud: "acme", sub: "pulumi:environments:org:acme:env:transient-jobs/prod" },
      ],
    ];
    for (const [title, token] of denied) {
      it(`denies ${title}`, () => assert.equal(assumeRole(prodTrust, token), "ImplicitlyDenied"));
    }

    it("denies a token from another OIDC provider with the same claims", () => {
      const sub = deploymentSubject("acme", "transient-jobs", "prod");
      assert.equal(
        assumeRole(
          prodTrust,
          { aud: "acme", sub },
          {
            principal: `arn:aws:iam::${MOCK_ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com`,
          },
        ),
        "ImplicitlyDenied",
      );
    });

    it("denies plain sts:AssumeRole by a principal of the account", () => {
      const sub = deploymentSubject("acme", "transient-jobs", "prod");
      assert.equal(
        assumeRole(
          prodTrust,
          { aud: "acme", sub },
          { principal: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/ci`, action: "sts:AssumeRole" },
        ),
        "ImplicitlyDenied",
      );
    });

    it("would allow other stacks if the subject condition were missing (the test can fail)", () => {
      const { StringLike: _, ...audienceOnly } = prodTrust.Statement[0].Condition!;
      const loose = {
        ...prodTrust,
        Statement: [{ ...prodTrust.Statement[0], Condition: audienceOnly }],
      };
      const sub = deploymentSubject("acme", "transient-jobs", "dev");
      assert.equal(assumeRole(loose, { aud: "acme", sub }), "Allowed");
    });
  });
});
