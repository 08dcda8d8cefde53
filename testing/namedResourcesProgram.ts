/**
 * A program for the engine's name checks: declares what `fixture:case` asks for, so a test can
 * show the engine refusing a name (or a type) that the real program never declares.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

const which = new pulumi.Config("fixture").require("case");

if (which === "long-role") new aws.iam.Role("r".repeat(57), { assumeRolePolicy: "{}" });
if (which === "fitting-role") new aws.iam.Role("r".repeat(56), { assumeRolePolicy: "{}" });
if (which === "explicit-bucket") new aws.s3.Bucket("results", { bucket: "Results_Bucket" });
if (which === "auto-named-bucket") new aws.s3.Bucket("Results");
if (which === "unknown-type") new aws.ec2.Vpc("network", { cidrBlock: "10.0.0.0/16" });
