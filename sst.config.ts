/// <reference path="./.sst/platform/config.d.ts" />
// Placeholder until the deploy work lands: `sst deploy` will put the relay on ECS Fargate (see infra/).
export default $config({
  app(input) {
    return { name: 'factlib', removal: input?.stage === 'prod' ? 'retain' : 'remove', home: 'aws' }
  },
  async run() {},
})
