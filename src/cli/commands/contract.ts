import type { Command } from "commander";
import { matchDataJsonSchemaText } from "../../contract/index.js";

export function registerContract(program: Command): void {
  const contract = program.command("contract").description("the MatchData message contract");
  contract
    .command("schema")
    .description("print the JSON Schema of MatchData v1 (as committed at schema/match-data.v1.json)")
    .action(() => {
      process.stdout.write(matchDataJsonSchemaText());
    });
}
